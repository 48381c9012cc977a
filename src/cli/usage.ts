// The --help text. args.test.ts checks that every flag parseCli accepts is mentioned here.

export const USAGE = `Usage: tcp-checker -a HOST:PORT [options] [TARGET...]
       tcp-checker monitor [options] [TARGET...]     (or --monitor)
       tcp-checker doctor [--json] [--no-self-test]
       tcp-checker wait TARGET... [--timeout T] [--interval T]
       tcp-checker serve [--listen HOST:PORT] [--config FILE]
       tcp-checker read FILE [--json]                 checks recorded in a pcap/pcapng file

Checks whether TCP ports are open with a half-open handshake (SYN, SYN-ACK, RST): the
server application never sees a connection.

Targets (-a, positional, or -f):
  198.18.0.2:80  [2001:2::2]:443  db.example:5432     one host, one port
  198.18.0.0/28:80,443,8000-8010                      a CIDR block times a port list
  [2001:2::/120]:22  web.example:80,443               IPv6 blocks in brackets; names too
  IPv4 blocks shorter than /31 skip their network and broadcast addresses; /31, /32 and
  IPv6 blocks keep every address. Host names must resolve before anything is sent.

Options:
  -a, --addr TARGET        target (repeatable; positional targets work too)
  -f, --file FILE          read targets from FILE, one per line ("-": standard input;
                           "#" starts a comment, blank lines are skipped)
  -t, --timeout MS         timeout per check in milliseconds, DNS included (default 1000)
  -n, --requests N         checks per target (default 1)
  -c, --concurrency C      checks in flight at once (default 1)
      --rate PPS           start at most PPS checks per second (token bucket)
      --retries N          SYN retransmissions inside the timeout (default 6)
      --max-targets N      refuse targets that expand to more than N (default 65536)
      --strategy S         auto | raw | socket | connect (default auto)
      --source ADDR        send from this address (raw strategy)
      --interface IF       capture replies on IF (raw strategy)
      --pcap FILE          record every packet sent and received to FILE (pcap,
                           LINKTYPE_RAW; needs the raw strategy)
      --seed S             visit targets x ports in a pseudo-random order fixed by S
                           (0 to 2^53-1; the same S gives the same order everywhere)
      --shard I/N          check only shard I of N of that order (needs --seed); the N
                           shards are disjoint and together cover every target
  -4 / -6                  resolve host names to IPv4 / IPv6 only

Shaping the SYN (raw strategy; for experiments such as RFC 7872's):
      --ipv6-ext LIST      IPv6 extension headers before TCP, in order: hbh, dest, frag,
                           route, each with an optional :BYTES (multiple of 8), e.g.
                           "hbh:16,dest"; makes the run IPv6-only (like -6)
      --syn-options LIST   TCP options in order: mss:N, ws:N, sack, ts, nop, eol, or "none"
                           (default: Linux's mss,sack,ts,nop,ws)
      --ttl N              IPv4 TTL / IPv6 hop limit of the SYN (default 64)
      --window N           the SYN's window (default 64240 / 64800)
      --source-ports LO-HI send from these ports (default: above the kernel's ephemeral
                           range; must stay clear of it)

      --json               one JSON line per check on stdout (the summary goes to stderr)
  -v, --verbose            print every check and the chosen strategy
  -q, --quiet              no progress line (it shows on a terminal for runs over 100
                           checks or 1 second, never when --json output is piped)
  -h, --help               this text
      --version            print the version

Monitor mode (tcp-checker monitor, or --monitor): checks every target forever and logs each
state change (UP, DOWN), with HAProxy's health-check rules:
      --config FILE        targets and settings from a JSON or YAML file (see README)
      --inter T            interval between checks (default 2000ms; "2s", "500ms" work)
      --fastinter T        interval while a state change is in progress (default: inter)
      --downinter T        interval while DOWN (default: inter)
      --rise N             consecutive successes to go UP (default 2)
      --fall N             consecutive failures to go DOWN (default 3)
      --burst N            probes per round; a round succeeds when one is open (default 1)
      --metrics HOST:PORT  serve Prometheus metrics on http://HOST:PORT/metrics
  -c, --concurrency C      rounds in flight at once (default 1000)
  Targets start UNKNOWN and become UP after rise successes, DOWN after fall failures.
  SIGINT or SIGTERM stops the monitor (exit 0).

Wait (tcp-checker wait HOST:PORT...): exit 0 once every target answers open (half-open:
the service accepts nothing), 1 when --timeout runs out or a signal stops it, 2 on bad input.
A host name is checked on every address it resolves to ("localhost": ::1 and 127.0.0.1).
  -t, --timeout T          total time to wait (default: forever; "30s", "500ms" work)
      --interval T         between two checks of a target (default 250ms)
      --check-timeout T    timeout of each check (default 1000ms)
  -v                       print every check; also --strategy, -4, -6 as above

Serve (tcp-checker serve): blackbox_exporter's GET /probe?target=HOST:PORT[&module=NAME]
for Prometheus, answered by a half-open check, and GET /metrics (the engine's metrics).
      --listen HOST:PORT   where to listen (default 127.0.0.1:9116; ":9116" is every interface)
      --config FILE        modules (timeout, retries, family, burst) from JSON or YAML (see README)
      --timeout-offset S   seconds taken off Prometheus's scrape timeout (default 0.5)
  -v                       log every check; also --strategy, --source, --interface, -4, -6
  SIGINT or SIGTERM stops it (exit 0).

Exit status: 0 when every check found the port open, 1 when any did not (or the run was
interrupted), 2 on bad usage (nothing was sent).`;
