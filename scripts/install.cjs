// npm's `install` hook. On linux-x64 glibc the package's prebuilt binary loads and nothing is
// built (node-gyp-build checks that it loads). Elsewhere on Linux it builds from source with
// node-gyp, which needs g++, make, python3 and libpcap-dev. If that fails, the install still
// succeeds: the package works without its addon, through the `connect` strategy, and says so
// loudly at run time (checker.strategy.warning, the CLI's stderr, `tcp-checker doctor`).
// `npm rebuild tcp-shaker --build-from-source` always builds, and fails when the build does.
// Off Linux there is nothing to build: the addon is Linux-only.
'use strict';
const { spawnSync } = require('node:child_process');

const fromSource = process.env.npm_config_build_from_source === 'true';

if (process.platform !== 'linux') {
  console.error(`tcp-shaker: no native addon on ${process.platform} (it is Linux-only): checks use the connect strategy`);
  process.exit(0);
}

const result = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { stdio: 'inherit' });
if (result.status === 0) process.exit(0);
if (fromSource) process.exit(result.status ?? 1);
console.error(
  'tcp-shaker: WARNING: the native addon could not be built (no prebuilt binary for ' +
    `${process.platform}-${process.arch}, and building needs g++, make, python3 and libpcap-dev). ` +
    'Checks will use the connect strategy, full handshakes the server application sees. ' +
    'Install the tools, then run `npm rebuild tcp-shaker --build-from-source`.',
);
process.exit(0);
