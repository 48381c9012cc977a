import test from 'ava';
import { formatAddress, parseAddress } from '../../src/wire/address.js';
import { hex } from './util.js';

const roundTrip = test.macro({
  exec(t, text: string, bytesHex: string, canonical: string = text) {
    const bytes = parseAddress(text);
    t.truthy(bytes, `${text} should parse`);
    t.is(Buffer.from(bytes!).toString('hex'), bytesHex.replace(/\s+/g, ''));
    t.is(formatAddress(bytes!), canonical);
  },
  title: (provided = '', text: string) => `address ${text} ${provided}`.trim(),
});

test(roundTrip, '198.18.0.1', 'c6120001');
test(roundTrip, '0.0.0.0', '00000000');
test(roundTrip, '255.255.255.255', 'ffffffff');
test(roundTrip, '::', '0000 0000 0000 0000 0000 0000 0000 0000');
test(roundTrip, '::1', '0000 0000 0000 0000 0000 0000 0000 0001');
test(roundTrip, '1::', '0001 0000 0000 0000 0000 0000 0000 0000');
test(roundTrip, '2001:db8::1', '2001 0db8 0000 0000 0000 0000 0000 0001');
// RFC 5952 §4.1: no leading zeros; §4.3: lower case.
test(roundTrip, '2001:0DB8:0000:0000:0000:0000:0000:0001', '2001 0db8 0000 0000 0000 0000 0000 0001', '2001:db8::1');
// §4.2.2: a single 16-bit zero field is not shortened.
test(roundTrip, '2001:db8:0:1:1:1:1:1', '2001 0db8 0000 0001 0001 0001 0001 0001');
test(roundTrip, '2001:db8::1:1:1:1:1', '2001 0db8 0000 0001 0001 0001 0001 0001', '2001:db8:0:1:1:1:1:1');
// §4.2.3: the longest run is shortened; on a tie, the first.
test(roundTrip, '2001:0:0:1:0:0:0:1', '2001 0000 0000 0001 0000 0000 0000 0001', '2001:0:0:1::1');
test(roundTrip, '2001:db8:0:0:1:0:0:1', '2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1');
// §5: IPv4-mapped addresses keep the dotted quad.
test(roundTrip, '::ffff:192.0.2.1', '0000 0000 0000 0000 0000 ffff c000 0201');
test(roundTrip, '::ffff:c000:201', '0000 0000 0000 0000 0000 ffff c000 0201', '::ffff:192.0.2.1');
test(roundTrip, '64:ff9b::192.0.2.33', '0064 ff9b 0000 0000 0000 0000 c000 0221', '64:ff9b::c000:221');
test(roundTrip, 'fe80::1:2:3:4', 'fe80 0000 0000 0000 0001 0002 0003 0004');
test(roundTrip, '1:2:3:4:5:6:7:8', '0001 0002 0003 0004 0005 0006 0007 0008');
test(roundTrip, '1:2:3:4:5:6:7::', '0001 0002 0003 0004 0005 0006 0007 0000', '1:2:3:4:5:6:7:0');

const invalid = test.macro({
  exec(t, text: string) {
    t.is(parseAddress(text), undefined);
  },
  title: (_provided, text: string) => `rejects ${JSON.stringify(text)}`,
});

for (const text of [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '01.2.3.4', // leading zero: octal to inet_aton, decimal elsewhere
  '1.2.3.-4',
  '1.2.3.4 ',
  ' 1.2.3.4',
  'a.b.c.d',
  '1..2.3',
  ':',
  ':::',
  '1:2',
  '1::2::3',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7:8::',
  '12345::',
  'g::1',
  ':1::2',
  '1::2:',
  '::1.2.3',
  '::1.2.3.4.5',
  '1.2.3.4::',
  '1:2:3:4:5:6:7:1.2.3.4',
  'fe80::1%eth0',
  '[::1]',
  'localhost',
]) {
  test(invalid, text);
}

test('parseAddress never throws on non-strings', (t) => {
  t.is(parseAddress(undefined as unknown as string), undefined);
  t.is(parseAddress(42 as unknown as string), undefined);
});

test('formatAddress renders other lengths as colon-separated hex (MAC addresses)', (t) => {
  t.is(formatAddress(hex`0200 5e10 00ff`), '02:00:5e:10:00:ff');
  t.is(formatAddress(new Uint8Array(0)), '');
});
