// The addon's entry point and its raw-socket calls: open a raw socket, send one packet, close an
// fd, and claim a TCP source port for the raw engine (bindTcpPort). Each other job has a file of its own (modules.h lists them); the TypeScript face of this
// file is src/native/addon.ts, the one loader and the one type of the whole addon.
//
// Why C++: socket(2) with SOCK_RAW and sendto(2) on it are not reachable from Node's own APIs,
// nor is a TCP socket that is bound but never listens or connects (Node's net.Server binds and
// listens in one step, and a listener would accept the very SYN-ACKs the probes provoke).
// What stays in TypeScript: every byte of every packet (headers, checksums, byte order), when to
// send, and what an errno means. Syscall failures come back as -errno so TypeScript turns them
// into Node-style system errors in one place; C++ throws only a TypeError when the caller breaks
// the contract TypeScript already enforces.

#include <napi.h>

#include "args.h"
#include "modules.h"
#include "sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// openRaw(family: 4 | 6, sndbufBytes: number): fd | -errno
// IPPROTO_RAW implies IP_HDRINCL (raw(7)) and, on Linux, the IPv6 equivalent:
// the buffers we send carry the full IP header built in TypeScript.
Napi::Value OpenRaw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return Fail(env, "openRaw(family, sndbufBytes)");
  }
  int family = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int sndbuf = info[1].As<Napi::Number>().Int32Value();
  if (sndbuf > 0) {
    // Best effort: SO_SNDBUFFORCE needs CAP_NET_ADMIN, SO_SNDBUF is capped by wmem_max.
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
  }
  return Napi::Number::New(env, fd);
}

// send(fd, packet: Uint8Array, dst: Uint8Array(4|16)): bytes sent | -errno
Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !IsAddress(info[2])) {
    return Fail(env, "send(fd, packet, dst)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto packet = info[1].As<Napi::Uint8Array>();
  auto dst = info[2].As<Napi::Uint8Array>();
  sockaddr_storage sa;
  socklen_t salen = FillSockaddr(dst.Data(), dst.ByteLength(), 0, &sa);
  ssize_t n = sendto(fd, packet.Data(), packet.ByteLength(), MSG_DONTWAIT,
                     reinterpret_cast<sockaddr*>(&sa), salen);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// bindTcpPort(port): fd | -errno
// A TCP socket bound to the wildcard address on `port`, dual-stack where the host has IPv6, that
// never listens: the kernel's record that this process owns the port. Another bind to it (another
// engine, a listener starting later) fails with EADDRINUSE, and so does ours when a socket already
// holds it; the kernel drops the claim when the fd closes, also when the process is killed.
// No SO_REUSEADDR, which would let a second bound-but-idle socket share the port. A bound socket
// that does not listen is in no lookup table for inbound segments, so it changes nothing about
// how the kernel treats the replies (the nftables shim still hides SYN-ACKs from it).
Napi::Value BindTcpPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Fail(env, "bindTcpPort(port)");
  uint32_t port = info[0].As<Napi::Number>().Uint32Value();
  if (port == 0 || port > 65535) return Fail(env, "bindTcpPort(port): port 1-65535");
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int off = 0;
    // Both families: a claim must also stop an IPv4-only socket from taking the port.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    sockaddr_in6 sin6 = {};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons(static_cast<uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6)) == 0) return Napi::Number::New(env, fd);
    int err = errno;
    close(fd);
    return Napi::Number::New(env, -err);
  }
  if (errno != EAFNOSUPPORT) return Napi::Number::New(env, -errno);
  // A kernel without IPv6: the IPv4 wildcard is the whole claim.
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  sockaddr_in sin = {};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_ANY);
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0) return Napi::Number::New(env, fd);
  int err = errno;
  close(fd);
  return Napi::Number::New(env, -err);
}

// close(fd): 0 | -errno
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Fail(env, "close(fd)");
  int rc = close(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(env, rc < 0 ? -errno : 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openRaw", Napi::Function::New(env, OpenRaw));
  exports.Set("send", Napi::Function::New(env, Send));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("bindTcpPort", Napi::Function::New(env, BindTcpPort));
  InitConnect(env, exports);
  InitCapture(env, exports);
  InitSender(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tcp_shaker_native, Init)
