// The one error class of the command line: bad input from the user, reported as one line on
// stderr with exit status 2, always before anything is sent.
import { ShakerError } from '../core/errors.js';

export class UsageError extends ShakerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SHAKER_USAGE', options);
  }
  override get name(): string {
    return 'UsageError';
  }
}
