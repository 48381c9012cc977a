#!/usr/bin/env bash
# `prepack`: builds the prebuilt addon that ships in the package, prebuilds/linux-x64/
# tcp-shaker.glibc.node (prebuildify --napi: one binary for every Node version with N-API 8),
# so `npm install` of the tarball on linux-x64 glibc needs no compiler. It is built fresh from
# native/ on every pack rather than committed, so it can never lag behind the sources.
#
# prebuildify runs `node-gyp rebuild` and then moves the binary out of build/Release; doing that
# in this checkout would pull the developer's (and a running test suite's) addon from under
# them. So it builds in a scratch copy of binding.gyp + native/ and copies prebuilds/ back.
#
# libpcap is linked dynamically (libpcap.so.0.8, Debian/Ubuntu package libpcap0.8): Debian's
# static libpcap.a pulls in libdbus and through it libsystemd, which has no static library, so
# a fully static binary is not possible with the distribution's libpcap.
#
# Off linux-x64 (or without a compiler) it prints why and leaves prebuilds/ alone: a tarball
# packed there has no prebuilt binary and installs build from source. `prepublishOnly` refuses
# to publish without one.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'prebuild: %s\n' "$*" >&2; }

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  say "not linux-x64: no prebuilt binary in this tarball"
  exit 0
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r binding.gyp native package.json "$scratch/"
ln -s "$PWD/node_modules" "$scratch/node_modules"
# node-gyp would download Node's headers; use the installed ones when they are there.
[ -f /usr/include/node/node_api.h ] && export npm_config_nodedir=/usr
if ! (cd "$scratch" && npx --no-install prebuildify --napi --strip --tag-libc >"$scratch/log" 2>&1); then
  tail -20 "$scratch/log" >&2
  say "could not build the prebuilt binary (is g++, make, python3 and libpcap-dev installed?)"
  exit 1
fi
rm -rf prebuilds/linux-x64
mkdir -p prebuilds
cp -r "$scratch/prebuilds/linux-x64" prebuilds/
say "$(ls prebuilds/linux-x64)"
