// The public face `tcp-shaker/pcap`: capture files read and written without native code, and a
// recording read back as checks. (Live capture stays inside the engine.)
//
//   import { readCaptureFile, recordedChecks } from 'tcp-shaker/pcap';
//   const { checks, unmatched } = recordedChecks(await readCaptureFile('run.pcap'));
export { parseCapture, readCaptureFile, type CaptureFile, type CapturedPacket } from './capture-file.js';
export {
  encodePcap,
  MalformedPcapError,
  parsePcap,
  PcapWriter,
  readPcapFile,
  readPcapFileSync,
  type PcapFile,
  type PcapHeaderOptions,
  type PcapRecord,
  type PcapRecordInput,
} from './pcap-file.js';
export { isPcapng, parsePcapng, type PcapngFile, type PcapngInterface, type PcapngPacket } from './pcapng.js';
export { recordedChecks, type RecordedCheck, type RecordedChecks, type UnmatchedPacket } from './recorded-checks.js';
export { ipPacket } from './link-layer.js';
export { LinkType } from '../wire/link-type.js';
