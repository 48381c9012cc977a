// Errors of the testbed. Missing privileges or tools are the library-wide UnsupportedError
// (src/errors.ts); a host command that ran and failed is a TestbedCommandError carrying its output.
import { ShakerError } from '../core/errors.js';
import type { CommandResult } from './run.js';

export class TestbedCommandError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_TESTBED_COMMAND';
  readonly result: CommandResult;

  constructor(result: CommandResult) {
    const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(0, 8).join('\n');
    super(`\`${result.argv.join(' ')}\` ${status}${output ? `:\n${output}` : ''}`, 'ERR_SHAKER_TESTBED_COMMAND');
    this.result = result;
  }

  override get name(): string {
    return 'TestbedCommandError';
  }
}
