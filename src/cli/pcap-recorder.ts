// `--pcap FILE`: every packet the raw engine sends and receives, through its onPacket hook, in
// a classic pcap file of bare IP packets (LINKTYPE_RAW), which tcpdump and Wireshark read.
// Records reach the file at least once a second, so a file of a long-running monitor is
// readable while it runs, and at close.
import { LinkType, PcapWriter } from '../capture/pcap-file.js';
import { UsageError } from './usage-error.js';

const FLUSH_EVERY_MS = 1000;

export class PcapRecorder {
  private readonly flushTimer: NodeJS.Timeout;

  private constructor(private readonly writer: PcapWriter) {
    this.flushTimer = setInterval(() => writer.flush(), FLUSH_EVERY_MS);
    this.flushTimer.unref();
  }

  /** Creates (or truncates) the file; an unwritable path is a UsageError. */
  static open(path: string): PcapRecorder {
    try {
      return new PcapRecorder(PcapWriter.open(path, { linkType: LinkType.RAW }));
    } catch (error) {
      throw new UsageError(`cannot write --pcap file "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  /** For RawStrategyOptions.onPacket. The bytes are copied before the call returns. */
  readonly onPacket = (_direction: 'sent' | 'received', bytes: Uint8Array, timestampUs: number): void => {
    if (!this.writer.closed) this.writer.write(bytes, timestampUs / 1000);
  };

  get packets(): number {
    return this.writer.recordCount;
  }

  close(): void {
    clearInterval(this.flushTimer);
    this.writer.close();
  }
}
