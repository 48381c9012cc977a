#!/usr/bin/env bash
# Makes a fresh clone ready for `npm test` / `npm run demo`: Debian packages, node_modules,
# the TypeScript build and the native addon. Idempotent and quiet when there is nothing to do.
# Prints one clear line and exits non-zero when it cannot do its job.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(uname -s)" = Linux ] || die "tcp-shaker needs Linux (raw sockets, network namespaces, nftables); this is $(uname -s)."

# --- Debian packages: the capture library headers and the testbed tools -----------------------
# dpkg name -> a file that proves it is installed (dpkg -s is slow and lies for half-removed packages)
declare -A wanted=(
  [libpcap-dev]=/usr/include/pcap/pcap.h
  [nftables]=/usr/sbin/nft
  [iproute2]=/usr/sbin/ip
  [tcpdump]=/usr/bin/tcpdump
  [ethtool]=/usr/sbin/ethtool
  [make]=/usr/bin/make
  [g++]=/usr/bin/g++
  # test/serve/prometheus.test.ts scrapes `tcp-checker serve` with a real Prometheus, and
  # blackbox_exporter side by side. Both only ever run inside a test's network namespace; on a
  # machine with systemd, installing them also starts their services (Prometheus on :9090).
  [prometheus]=/usr/bin/prometheus
  [prometheus-blackbox-exporter]=/usr/bin/prometheus-blackbox-exporter
)
missing=()
for pkg in "${!wanted[@]}"; do
  [ -e "${wanted[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages (${missing[*]}) and not root: run 'sudo apt-get install ${missing[*]}' once."
  fi
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them with your package manager."
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed: is the Debian mirror reachable?"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || die "apt-get install ${missing[*]} failed."
  for pkg in "${missing[@]}"; do
    # A package dpkg calls installed whose file is gone (removed by hand): reinstall it.
    if [ ! -e "${wanted[$pkg]}" ]; then
      apt-get install -y -qq --reinstall "$pkg" >/dev/null 2>&1 || true
      [ -e "${wanted[$pkg]}" ] || die "$pkg is installed but ${wanted[$pkg]} is missing."
    fi
  done
fi

# --- node_modules: npm ci when missing or older than the lock file -----------------------------
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "npm ci"
  # The test oracles npm `pcap` and `cap` build with node-gyp at install: use this machine's
  # Node headers (no download, no internet) and libpcap-dev from above.
  [ -f /usr/include/node/node_api.h ] && export npm_config_nodedir=/usr
  npm ci --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed (see the npm log above)."
fi

# --- native addon: rebuild when its sources are newer than the binary ---------------------------
addon=build/Release/tcp_shaker_native.node
addon_stale=false
[ -f "$addon" ] || addon_stale=true
for source in binding.gyp native/*; do [ "$source" -nt "$addon" ] && addon_stale=true; done
if [ "$addon_stale" = true ]; then
  say "building the native addon"
  gyp_args=()
  # This machine's Node ships its headers under /usr/include/node; point node-gyp there so it
  # never tries to download them (there is no internet here).
  [ -f /usr/include/node/node_api.h ] && gyp_args+=(--nodedir=/usr)
  npx --no-install node-gyp rebuild "${gyp_args[@]}" --loglevel=error >/dev/null \
    || die "building the native addon failed: is g++ installed and node's headers present?"
fi

# --- TypeScript: compile when any source is newer than the last build ---------------------------
if [ ! -f dist/.built ] || [ -n "$(find src scripts tsconfig.json tsconfig.build.json package.json \
      -newer dist/.built -name '*.ts' -o -newer dist/.built -name '*.json' 2>/dev/null | head -1)" ]; then
  say "compiling TypeScript"
  npx --no-install tsc -p tsconfig.build.json || die "TypeScript build failed."
  chmod +x dist/src/cli/tcp-checker.js 2>/dev/null || true
  touch dist/.built
fi
