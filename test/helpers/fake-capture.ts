// A stand-in for libpcap: the raw engine opens "captures" through RawStrategyOptions.openCapture
// and a test pushes frames into them by hand. Frames use link type RAW (101) by default, so a
// frame is a bare IP packet as src/wire's builders write it.
//
// Like the real capture, push() delivers synchronously into the engine's handler and a closed
// capture delivers nothing. The handler is NOT wrapped in try/catch here (the real one swallows
// exceptions): a throw from the engine fails the test instead of hiding.
import type { FrameHandler, LiveCapture, LiveCaptureOptions } from '../../src/capture/pcap.js';
import { LinkType } from '../../src/wire/link-type.js';

export class FakeCapture implements LiveCapture {
  readonly iface: string;
  closed = false;
  /** How many frames reached the handler. */
  delivered = 0;

  constructor(
    readonly options: LiveCaptureOptions,
    private readonly onFrame: FrameHandler,
    readonly linkType: number,
  ) {
    this.iface = options.iface;
  }

  /**
   * Hands `frame` to the engine as libpcap would, stamped with the wall clock in µs (or the given
   * stamp). Returns false when the capture is closed and the frame went nowhere.
   */
  push(frame: Uint8Array, timestampUs = (performance.timeOrigin + performance.now()) * 1000, linkType = this.linkType): boolean {
    if (this.closed) return false;
    this.delivered++;
    this.onFrame(frame, timestampUs, linkType);
    return true;
  }

  close(): void {
    this.closed = true;
  }

  stats(): { received: number; dropped: number; ifDropped: number } {
    return { received: this.delivered, dropped: 0, ifDropped: 0 };
  }
}

/** The `openCapture` seam: records every capture the engine opens. */
export class FakeCaptures {
  readonly opened: FakeCapture[] = [];
  /** Called on each open, e.g. to note how many packets were sent before it. */
  onOpen: ((capture: FakeCapture) => void) | undefined;

  constructor(private readonly linkType: number = LinkType.RAW) {}

  readonly open = (options: LiveCaptureOptions, onFrame: FrameHandler): LiveCapture => {
    const capture = new FakeCapture(options, onFrame, this.linkType);
    this.opened.push(capture);
    this.onOpen?.(capture);
    return capture;
  };

  /** The most recently opened capture that is still open. */
  get live(): FakeCapture {
    for (let i = this.opened.length - 1; i >= 0; i--) if (!this.opened[i].closed) return this.opened[i];
    throw new Error('FakeCaptures: no open capture');
  }

  /** Pushes into the live capture. */
  push(frame: Uint8Array, timestampUs?: number, linkType?: number): boolean {
    return this.live.push(frame, timestampUs, linkType);
  }
}
