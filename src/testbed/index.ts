// Public entry of `tcp-shaker/testbed`: a private two-namespace network for tests, the demo and
// benchmarks. Linux only, needs root. See testbed.ts for the topology.
export { Testbed } from './testbed.js';
export type {
  CaptureOptions,
  ExecNodeOptions,
  NamespaceInfo,
  Role,
  StartServerOptions,
  TestbedOptions,
} from './testbed.js';
export { ERROR_ROUTES, LINK, parseTestbedCidr } from './addressing.js';
export type { Cidr, ErrorRouteName } from './addressing.js';
export { Capture } from './capture.js';
export type { CaptureResult, CaptureStats } from './capture.js';
export { CountingServer } from './server.js';
export type { AcceptedConnection } from './server.js';
export type { FamilyChoice } from './server-firewall.js';
export { describeFrame, summarizeFrame, tcpFlagText } from './frame-summary.js';
export type { FrameSummary } from './frame-summary.js';
export { NAMESPACE_PREFIX, listNamespaces, ownerPid, sweepStaleTestbeds } from './names.js';
export { TestbedCommandError } from './errors.js';
export type { CommandResult, RunOptions } from './run.js';
export type { KernelClientReport, KernelConnectRequest, KernelUdpRequest } from './kernel-client.js';
