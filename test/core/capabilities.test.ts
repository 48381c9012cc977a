// Which capabilities a process holds and how they were granted, from /proc/self/status text:
// the Cap* lines (capabilities(7)) and the node binary's file capabilities (getcap).
import test from 'ava';
import { CAP_NET_ADMIN, CAP_NET_RAW, capabilitySets, capabilitySource, hasCapability } from '../../src/core/capabilities.js';

// CAP_NET_ADMIN (12) + CAP_NET_RAW (13) = 0x3000.
const status = (eff: string, amb: string) =>
  `Name:\tnode\nCapInh:\t${amb}\nCapPrm:\t${eff}\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\nCapAmb:\t${amb}\n`;
const none = '0000000000000000';
const two = '0000000000003000';

test('the five sets are parsed; a missing line is an empty set', (t) => {
  const sets = capabilitySets(status(two, two));
  t.is(sets.effective, 0x3000n);
  t.is(sets.ambient, 0x3000n);
  t.is(sets.bounding, 0x1ffffffffffn);
  t.true(hasCapability(sets.effective, CAP_NET_RAW));
  t.true(hasCapability(sets.effective, CAP_NET_ADMIN));
  t.deepEqual(capabilitySets('garbage'), { effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n, bounding: 0n });
});

const cases: Array<{ title: string; text: string; uid: number; fileCaps?: string; want: ReturnType<typeof capabilitySource> }> = [
  { title: 'root', text: status('000001ffffffffff', none), uid: 0, want: 'root' },
  { title: 'setpriv/systemd ambient, non-root', text: status(two, two), uid: 65534, want: 'ambient' },
  { title: 'setcap on node', text: status(two, none), uid: 1000, fileCaps: 'cap_net_admin,cap_net_raw=ep', want: 'file' },
  { title: 'effective but neither ambient nor from node', text: status(two, none), uid: 1000, want: 'inherited' },
  { title: 'not held', text: status(none, none), uid: 1000, fileCaps: 'cap_net_raw=ep', want: 'missing' },
];
for (const c of cases) {
  test(`CAP_NET_RAW source: ${c.title} -> ${c.want}`, (t) => {
    t.is(capabilitySource(capabilitySets(c.text), CAP_NET_RAW, c.uid, c.fileCaps, 'CAP_NET_RAW'), c.want);
  });
}
