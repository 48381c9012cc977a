// parseTarget: what users type as a target. Valid inputs give {text, host, port, literal};
// everything else is an InvalidArgumentError with code ERR_SHAKER_INVALID_ADDRESS whose message
// quotes the input, found before anything is resolved or sent.
import test from 'ava';
import { InvalidArgumentError, ShakerError } from '../../src/core/errors.js';
import { AddressTarget, parsePort, parseTarget, type Target } from '../../src/core/target.js';
import { parseAddress } from '../../src/wire/address.js';

const parses = test.macro({
  exec(t, input: string, expected: Omit<Target, 'text'> & { text?: string }) {
    t.deepEqual(parseTarget(input), { text: expected.text ?? input, host: expected.host, port: expected.port, literal: expected.literal });
  },
  title: (_p, input: string) => `parses ${JSON.stringify(input)}`,
});
test(parses, 'example.com:80', { host: 'example.com', port: 80, literal: 0 });
test(parses, 'localhost:1', { host: 'localhost', port: 1, literal: 0 });
test(parses, 'my-host_1.internal.:65535', { host: 'my-host_1.internal.', port: 65535, literal: 0 });
test(parses, 'EXAMPLE.COM:443', { host: 'EXAMPLE.COM', port: 443, literal: 0 });
test(parses, '1.example:80', { host: '1.example', port: 80, literal: 0 }); // numeric labels are fine, but the last
test(parses, '198.18.0.2.nip.example:80', { host: '198.18.0.2.nip.example', port: 80, literal: 0 });
test(parses, '223.255.255.255:80', { host: '223.255.255.255', port: 80, literal: 4 });
test(parses, '1.0.0.0:80', { host: '1.0.0.0', port: 80, literal: 4 });
test(parses, '198.18.0.2:80', { host: '198.18.0.2', port: 80, literal: 4 });
test(parses, '[2001:2::2]:80', { host: '2001:2::2', port: 80, literal: 6 });
test(parses, '[::1]:22', { host: '::1', port: 22, literal: 6 });
// An IPv4-mapped literal (RFC 4291 §2.5.5.2) is its IPv4 address, in either spelling.
test(parses, '[::ffff:198.18.0.2]:80', { host: '198.18.0.2', port: 80, literal: 4 });
test(parses, '[::FFFF:c612:2]:80', { host: '198.18.0.2', port: 80, literal: 4 });
test(parses, '[::198.18.0.2]:80', { host: '::198.18.0.2', port: 80, literal: 6 }); // IPv4-compatible: not mapped
test(parses, '[fe80::1%eth0]:80', { host: 'fe80::1%eth0', port: 80, literal: 6 });
test(parses, '  198.18.0.2:80\n', { text: '198.18.0.2:80', host: '198.18.0.2', port: 80, literal: 4 });
test(parses, 'example.com:0080', { host: 'example.com', port: 80, literal: 0 });
test(parses, `${'a'.repeat(63)}.com:80`, { host: `${'a'.repeat(63)}.com`, port: 80, literal: 0 });
// 253 characters exactly, the longest name RFC 1123 allows: four 61-character labels, three
// dots, then ".xxxxx" (247 + 6).
const LONGEST = `${Array(4).fill('b'.repeat(61)).join('.')}.xxxxx`;
test('the 253-character host name in these tests is 253 characters', (t) => t.is(LONGEST.length, 253));
test(parses, `${LONGEST}:80`, { host: LONGEST, port: 80, literal: 0 });

const rejects = test.macro({
  exec(t, input: unknown, mentions: RegExp) {
    const error = t.throws(() => parseTarget(input), { instanceOf: InvalidArgumentError });
    t.true(error instanceof ShakerError);
    t.is(error?.code, 'ERR_SHAKER_INVALID_ADDRESS');
    t.is(error?.name, 'InvalidArgumentError');
    // The message names what the user typed (trimmed), so a bad line in a long list can be found.
    const shown = typeof input === 'string' ? input.trim() : typeof input === 'bigint' || typeof input === 'symbol' ? undefined : JSON.stringify(input);
    if (shown !== undefined && shown !== '') t.true(error!.message.includes(shown), `${error?.message} should quote ${shown}`);
    t.regex(error!.message, mentions);
  },
  title: (_p, input: unknown) =>
    `rejects ${typeof input === 'string' ? JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…(${input.length})` : input) : `${typeof input} ${String(input)}`}`,
});
test(rejects, 'example.com:0', /port 0/);
test(rejects, 'example.com:65536', /port 65536/);
test(rejects, 'example.com:-1', /port "-1"/);
test(rejects, 'example.com:abc', /port "abc"/);
test(rejects, 'example.com:', /port ""/);
test(rejects, 'example.com:80x', /port "80x"/);
test(rejects, 'example.com: 80', /port " 80"/);
test(rejects, 'example.com:8.0', /port "8.0"/);
test(rejects, 'example.com:100000', /port "100000"/);
test(rejects, 'example.com', /missing ":port"/);
test(rejects, '198.18.0.2', /missing ":port"/);
test(rejects, 'abc', /missing ":port"/);
test(rejects, ':80', /neither an IP address nor a host name/);
test(rejects, '', /expected "host:port"/);
test(rejects, '   ', /expected "host:port"/);
test(rejects, '2001:2::2:80', /write IPv6 addresses in brackets, e.g. "\[2001:2::2\]:80"/);
test(rejects, '::1:22', /brackets/);
test(rejects, '[2001:2::2]', /expected "\[ipv6\]:port"/);
test(rejects, '[2001:2::2]80', /expected "\[ipv6\]:port"/);
test(rejects, '[2001:2::2:80', /expected "\[ipv6\]:port"/);
test(rejects, '[198.18.0.2]:80', /"198.18.0.2" is not an IPv6 address/);
test(rejects, '[]:80', /"" is not an IPv6 address/);
test(rejects, '[2001:2::2]:0', /port 0/);
test(rejects, '[2001:2::2]:65536', /port 65536/);
test(rejects, 'exa mple.com:80', /neither an IP address nor a host name/);
test(rejects, 'host/path:80', /neither an IP address nor a host name/);
test(rejects, 'h\u00e9llo.example:80', /neither an IP address nor a host name/);
test(rejects, 'a..b:80', /neither an IP address nor a host name/);
test(rejects, '-leading.example:80', /neither an IP address nor a host name/);
test(rejects, 'trailing-.example:80', /neither an IP address nor a host name/);
test(rejects, `${'a'.repeat(64)}.com:80`, /neither an IP address nor a host name/); // a 64-character label
test(rejects, `${LONGEST}x:80`, /neither an IP address nor a host name/); // 254 characters
test(rejects, `${'c'.repeat(300)}:80`, /neither an IP address nor a host name/);
test(rejects, 'http://example.com:80', /neither an IP address nor a host name/);
// Destinations no handshake can go to, refused before anything is sent (issue 13).
test(rejects, '0.0.0.0:8080', /"0.0.0.0" is in 0.0.0.0\/8 \("this network"/);
test(rejects, '0.1.2.3:80', /0.0.0.0\/8/);
test(rejects, '224.0.0.1:80', /"224.0.0.1" is multicast/);
test(rejects, '239.255.255.255:80', /is multicast/);
test(rejects, '255.255.255.255:80', /"255.255.255.255" is the broadcast address/);
test(rejects, '[::]:80', /"::" is the unspecified address/);
test(rejects, '[ff02::1]:80', /"ff02::1" is multicast/);
test(rejects, '[ff05::1:3]:80', /is multicast/);
test(rejects, '[::ffff:224.0.0.1]:80', /"224.0.0.1" is multicast/);
test(rejects, '[::ffff:0.0.0.0]:80', /0.0.0.0\/8/);
// inet_aton(3) forms: refused alike, never handed to the resolver as names.
test(rejects, '198.018.0.2:80', /"198.018.0.2" is not a valid IPv4 address/);
test(rejects, '0xc6.18.0.2:80', /"0xc6.18.0.2" is not a valid IPv4 address/);
test(rejects, '0xc6120002:80', /not a valid IPv4 address/);
test(rejects, '3325166594:80', /not a valid IPv4 address/);
test(rejects, '198.18.2:80', /not a valid IPv4 address/);
test(rejects, '198.18.0.2.:80', /not a valid IPv4 address/);
test(rejects, '198.18.0.256:80', /not a valid IPv4 address/);
// Not a string at all (JavaScript callers, JSON config).
test(rejects, undefined, /expected "host:port"/);
test(rejects, null, /expected "host:port"/);
test(rejects, 80, /expected "host:port"/);
test(rejects, ['example.com:80'], /expected "host:port"/);
test(rejects, { host: 'example.com', port: 80 }, /expected "host:port"/);
// Values JSON cannot print must still give the typed error, not a TypeError from the formatter.
test(rejects, 80n, /expected "host:port"/);
test(rejects, Symbol('target'), /expected "host:port"/);

const port = test.macro({
  exec(t, text: string, expected: number | undefined) {
    if (expected === undefined) t.throws(() => parsePort(text, 'the test'), { instanceOf: InvalidArgumentError, message: /in the test/ });
    else t.is(parsePort(text, 'the test'), expected);
  },
  title: (_p, text: string, expected: number | undefined) => `parsePort(${JSON.stringify(text)}) ${expected === undefined ? 'throws' : `is ${expected}`}`,
});
for (const [text, expected] of [
  ['1', 1],
  ['65535', 65535],
  ['00443', 443],
  ['0', undefined],
  ['65536', undefined],
  ['99999', undefined],
  ['', undefined],
  ['+80', undefined],
  ['1e3', undefined],
  ['0x50', undefined],
] as const) test(port, text, expected);

// AddressTarget: the same target as parseTarget() gives for the literal's text, from bytes.
const addressTarget = test.macro({
  exec(t, bytes: number[], port: number, expected: { text: string; ip: string; family: 4 | 6 }) {
    const target = new AddressTarget(Uint8Array.from(bytes), port);
    t.like(target, { ...expected, port });
    const parsed = parseTarget(target.text);
    t.deepEqual([parsed.host, parsed.port, parsed.literal], [target.ip, target.port, target.family], 'parseTarget agrees');
    t.deepEqual([...target.address], [...parseAddress(target.ip)!]);
  },
  title: (_p, bytes: number[], _port, expected: { text: string }) => `AddressTarget of ${bytes.join(',')} is ${expected.text}`,
});
test(addressTarget, [198, 18, 0, 2], 80, { text: '198.18.0.2:80', ip: '198.18.0.2', family: 4 });
test(addressTarget, [223, 255, 255, 255], 65535, { text: '223.255.255.255:65535', ip: '223.255.255.255', family: 4 });
test(addressTarget, [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 1, { text: '[2001:2::2]:1', ip: '2001:2::2', family: 6 });
test(addressTarget, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 22, { text: '[::1]:22', ip: '::1', family: 6 });
// IPv4-mapped: its IPv4 address, as parseTarget maps it.
test(addressTarget, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2], 80, { text: '198.18.0.2:80', ip: '198.18.0.2', family: 4 });

test('AddressTarget keeps its own copy of the bytes', (t) => {
  const bytes = Uint8Array.of(198, 18, 0, 2);
  const target = new AddressTarget(bytes, 80);
  bytes[3] = 9;
  t.is(target.address[3], 2);
});

const addressRejects = test.macro({
  exec(t, bytes: number[], port: number, text: string) {
    const error = t.throws(() => new AddressTarget(Uint8Array.from(bytes), port), { instanceOf: InvalidArgumentError });
    t.is(error?.code, 'ERR_SHAKER_INVALID_ADDRESS');
    // Refused with parseTarget's very message for the same text.
    if (text !== '') t.is(error?.message, t.throws(() => parseTarget(text))?.message);
  },
  title: (_p, bytes: number[], port: number, text: string) => `AddressTarget refuses ${text || JSON.stringify(bytes)} (port ${port})`,
});
test(addressRejects, [224, 0, 0, 1], 80, '224.0.0.1:80');
test(addressRejects, [255, 255, 255, 255], 80, '255.255.255.255:80');
test(addressRejects, [0, 1, 2, 3], 80, '0.1.2.3:80');
test(addressRejects, [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 80, '[ff02::1]:80');
test(addressRejects, new Array(16).fill(0), 80, '[::]:80');
test(addressRejects, [198, 18, 0, 2], 0, '198.18.0.2:0');
test(addressRejects, [198, 18, 0, 2], 65536, '198.18.0.2:65536');
test(addressRejects, [198, 18, 0, 2], 80.5, '');
test(addressRejects, [198, 18, 0], 80, '');
