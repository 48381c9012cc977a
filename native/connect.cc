// The unprivileged half-open check (the `socket` strategy; src/native/connect.ts is its
// TypeScript face): a kernel TCP socket set up so that the kernel sends the SYN, and close()
// answers the SYN-ACK with a RST instead of completing the handshake. No privilege is needed.
//
// Why C++: TCP_QUICKACK, SO_LINGER and TCP_SYNCNT on a socket that Node's net module never
// exposes as an fd, SO_ERROR and TCP_INFO reads, and a libuv poll on that fd.
// What stays in TypeScript: deadlines, retries, what each errno means (src/core/errno.ts), and
// when to close. Syscall failures come back as -errno.

#include <napi.h>

#include "args.h"
#include "modules.h"
#include "sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

namespace {

// The unprivileged half-open trick (what Go's tcp-shaker does on Linux):
// TCP_QUICKACK off puts the socket in delayed-ACK ("pingpong") mode, so the
// kernel does not ACK the SYN-ACK at once; SO_LINGER {1, 0} makes close()
// abort the connection with a RST. The server kernel answers the SYN, its
// application is never handed a connection.

// connectStart(dst: Uint8Array(4|16), port, src: Uint8Array(0|4|16), synRetries = -1): fd | -errno
// fd >= 0 means the connect is in flight (EINPROGRESS) or already done.
// synRetries >= 0 sets TCP_SYNCNT (the kernel accepts 1..127); -1 keeps the
// net.ipv4.tcp_syn_retries default.
Napi::Value ConnectStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !IsAddress(info[0]) || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      (info.Length() > 3 && !info[3].IsNumber() && !info[3].IsUndefined())) {
    return Fail(env, "connectStart(dst, port, src, synRetries?)");
  }
  auto dst = info[0].As<Napi::Uint8Array>();
  auto src = info[2].As<Napi::Uint8Array>();
  uint16_t port = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  int syn_retries = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  int family = dst.ByteLength() == 4 ? AF_INET : AF_INET6;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int off = 0;
  linger lg = {1, 0};
  if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0 ||
      (syn_retries >= 0 &&
       setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syn_retries, sizeof(syn_retries)) != 0)) {
    int err = errno;
    close(fd);
    return Napi::Number::New(env, -err);
  }
  sockaddr_storage sa;
  if (src.ByteLength() == dst.ByteLength()) {
    socklen_t len = FillSockaddr(src.Data(), src.ByteLength(), 0, &sa);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
      int err = errno;
      close(fd);
      return Napi::Number::New(env, -err);
    }
  }
  socklen_t len = FillSockaddr(dst.Data(), dst.ByteLength(), port, &sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return Napi::Number::New(env, -err);
  }
  return Napi::Number::New(env, fd);
}

// socketError(fd): the pending SO_ERROR (0 when connected) | -errno of getsockopt
Napi::Value SocketError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Fail(env, "socketError(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, err);
}

// tcpRetransmits(fd): tcpi_total_retrans from TCP_INFO | -errno. During a
// connect these are SYN retransmissions; the count survives a RST (tcp_done
// keeps it), so it can be read after the connect settled, before close.
Napi::Value TcpRetransmits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Fail(env, "tcpRetransmits(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  tcp_info ti;
  socklen_t len = sizeof(ti);
  memset(&ti, 0, sizeof(ti));
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, ti.tcpi_total_retrans);
}

// A libuv poll on one fd, reporting writability (connect settled) once. No
// thread per check: libuv's epoll watches every pending socket.
class WritableWatch : public Napi::ObjectWrap<WritableWatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "WritableWatch", {InstanceMethod("stop", &WritableWatch::Stop)});
  }

  // new WritableWatch(fd, callback(status)): status 0, or a negative libuv error.
  // libuv reports POLLERR (a refused or unreachable connect) as UV_EBADF, so the
  // caller reads SO_ERROR whatever the status.
  explicit WritableWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WritableWatch>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new WritableWatch(fd, callback)").ThrowAsJavaScriptException();
      return;
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    handle_->data = this;
    int rc = uv_poll_init(loop, handle_, info[0].As<Napi::Number>().Int32Value());
    if (rc == 0) rc = uv_poll_start(handle_, UV_WRITABLE | UV_DISCONNECT, OnPoll);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), FreeHandle);
      handle_ = nullptr;
      Napi::Error e = Napi::Error::New(env, uv_strerror(rc));
      e.Set("code", Napi::String::New(env, uv_err_name(rc)));
      e.ThrowAsJavaScriptException();
      return;
    }
    Ref();  // keep this object alive while libuv holds a pointer to it
  }

  ~WritableWatch() override { Release(); }

 private:
  static void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<WritableWatch*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::FunctionReference cb = std::move(self->callback_);
    self->Release();
    self->Unref();
    if (cb.IsEmpty()) return;
    // A JS exception comes back here as a C++ Napi::Error; escaping into libuv
    // would std::terminate the process. Hand it to Node as an uncaught
    // exception instead, as any other event-loop callback would.
    try {
      cb.MakeCallback(env.Global(), {Napi::Number::New(env, status)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      callback_.Reset();
      Release();
      Unref();
    }
    return info.Env().Undefined();
  }

  // Stops polling before TypeScript closes the fd (libuv requires that order).
  void Release() {
    if (handle_ == nullptr) return;
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), FreeHandle);
    handle_ = nullptr;
  }

  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
};

}  // namespace

void InitConnect(Napi::Env env, Napi::Object exports) {
  exports.Set("connectStart", Napi::Function::New(env, ConnectStart));
  exports.Set("socketError", Napi::Function::New(env, SocketError));
  exports.Set("tcpRetransmits", Napi::Function::New(env, TcpRetransmits));
  exports.Set("WritableWatch", WritableWatch::Init(env));
}
