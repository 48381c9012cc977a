// How many packet sockets (what libpcap opens per capture) this process holds: a closed or
// cleaned-up capture must leave none behind.
import fs from 'node:fs';

export function ownPacketSockets(): number {
  // /proc/net/packet lists every packet socket in the namespace; its last column is the inode.
  const inodes = new Set(
    fs.readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/).pop()),
  );
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1])) count++;
    } catch {
      // the fd closed while we looked
    }
  }
  return count;
}
