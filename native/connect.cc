// The unprivileged half-open check (the `socket` strategy; src/native/connect.ts is its
// TypeScript face): kernel TCP sockets set up so that the kernel sends the SYN and close()
// answers the SYN-ACK with a RST instead of completing the handshake. No privilege is needed.
//
// The trick (what Go's tcp-shaker does on Linux): TCP_QUICKACK off puts the socket in delayed-ACK
// ("pingpong") mode, so tcp_rcv_synsent_state_process does not ACK the SYN-ACK at once but arms
// the delayed-ACK timer (TCP_DELACK_MAX, 200 ms); SO_LINGER {1, 0} makes close() abort with a
// RST. Closed inside that window, the server's application is never handed a connection; closed
// after it, the ACK has gone out and the application accepts (issue #16: on the JavaScript event
// loop, under load, it did for thousands of checks).
//
// Why a thread of its own, with its own epoll: the close is the time-critical step, and it must
// not wait for a JavaScript event loop that may lag by hundreds of milliseconds. On a veth pair or
// loopback connect() also runs the target's whole SYN path (SYN in, SYN-ACK out, SYN-ACK in)
// inside the call: most of a check's CPU, which here runs on the other core. This thread does
// every system call on the sockets: socket/setsockopt/connect, the completion (epoll), SO_ERROR,
// TCP_INFO and the linger-0 close; JavaScript never sees an fd, so none can be closed twice or
// reused under the thread's feet.
//
// What stays in TypeScript (src/strategies/socket.ts): deadlines and when to cancel, retries
// (TCP_SYNCNT / TCP_USER_TIMEOUT values), what each errno means (src/core/errno.ts), the governor
// that holds new connects when the close latency nears the window, and every outcome. This file
// reports numbers: one record per check, handed over in batches (one JavaScript call per batch,
// as native/capture.cc and native/sender.cc do).
//
// Record (7 x int32, see src/native/connect.ts): slot, generation, kind, errno, SYN
// retransmissions, RTT µs, close latency µs (-1 when not measured).

#include "args.h"
#include "modules.h"
#include "sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// What a record says happened (mirrored by RecordKind in src/native/connect.ts).
enum Kind : int32_t {
  kSettled = 0,     // the connect ended: errno 0 = connected (then closed with a RST), else SO_ERROR
  kCancelled = 1,   // closed on request (deadline, abort) before the connect settled
  kNotStarted = 2,  // socket/setsockopt/bind/connect failed at once: no SYN left (errno)
  kFailed = 3,      // a local call failed after the SYN went out (epoll_ctl, getsockopt: errno)
};
constexpr int kRecordInts = 7;

// Connects started between two looks at the epoll set. A connect on a veth pair costs ~10-20 µs
// (the target's SYN path runs inside it), so a burst of 32 keeps any ready socket's close at most
// ~0.5 ms away, far inside the 200 ms window, while the epoll_wait per burst stays amortised.
constexpr int kConnectBurst = 32;
constexpr int kEvents = 1024;
// After a round the thread looks for new requests this long before it sleeps in epoll_wait: under
// load the next request comes within microseconds, and finding the thread awake spares the
// JavaScript thread an eventfd write (and the thread a wake-up) per request. Same trade as
// native/sender.cc's kSpin: at an idle rate it costs this much CPU per request.
constexpr auto kSpin = std::chrono::microseconds(50);
// epoll data of the wake-up eventfd (slots are 32-bit, so no socket has it).
constexpr uint64_t kWakeTag = ~0ull;

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

struct Request {
  bool cancel;
  uint32_t slot;
  uint32_t generation;
  int synRetries;     // TCP_SYNCNT, -1 = the kernel's default
  int userTimeoutMs;  // TCP_USER_TIMEOUT, 0 = none
  socklen_t dstLen;
  socklen_t srcLen;   // 0 = let the kernel pick the source
  sockaddr_storage dst;
  sockaddr_storage src;
};

struct Socket {
  int fd = -1;
  uint32_t generation = 0;
  int64_t startedUs = 0;
};

// The records waiting for JavaScript. Shared with queued thread-safe calls, which may run after
// the engine is gone (a call queued just before close()), hence the shared_ptr.
struct Outbox {
  std::mutex mutex;
  std::vector<int32_t> records;
  bool callQueued = false;
};

class ConnectEngine : public Napi::ObjectWrap<ConnectEngine> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ConnectEngine",
                       {InstanceMethod("connect", &ConnectEngine::Connect),
                        InstanceMethod("cancel", &ConnectEngine::Cancel),
                        InstanceMethod("ref", &ConnectEngine::RefLoop),
                        InstanceMethod("unref", &ConnectEngine::UnrefLoop),
                        InstanceMethod("close", &ConnectEngine::Close),
                        InstanceMethod("stats", &ConnectEngine::Stats)});
  }

  // new ConnectEngine(onRecords: (records: Int32Array) => void)
  explicit ConnectEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ConnectEngine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "new ConnectEngine(onRecords)").ThrowAsJavaScriptException();
      return;
    }
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    if (epoll_ < 0 || wake_ < 0 || epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
      Napi::Error e = Napi::Error::New(env, std::string("connect engine: ") + strerror(errno));
      e.Set("code", Napi::String::New(env, "ERR_SHAKER_SYSTEM"));
      if (epoll_ >= 0) close(epoll_);
      if (wake_ >= 0) close(wake_);
      epoll_ = wake_ = -1;
      e.ThrowAsJavaScriptException();
      return;
    }
    onRecords_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "tcp-shaker connect", 0, 1);
    // TypeScript refs the engine while checks are in flight (ref()/unref()), like a pending socket.
    onRecords_.Unref(env);
    napi_add_env_cleanup_hook(env, &ConnectEngine::OnEnvExit, this);
    env_ = env;
    thread_ = std::thread(&ConnectEngine::Run, this);
    // Named, so top -H and the benchmark's per-thread CPU (bench/workloads/driver.ts) find it.
    pthread_setname_np(thread_.native_handle(), "tshk-connect");
  }

  ~ConnectEngine() override { Stop(); }

 private:
  static void OnEnvExit(void* self) { static_cast<ConnectEngine*>(self)->Stop(); }

  // connect(slot, generation, dst: Uint8Array(4|16), port, src: Uint8Array(0|4|16), synRetries,
  //         userTimeoutMs): queues a check. Its record comes back through onRecords.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 7 || !info[0].IsNumber() || !info[1].IsNumber() || !IsAddress(info[2]) || !info[3].IsNumber() ||
        !info[4].IsTypedArray() || !info[5].IsNumber() || !info[6].IsNumber()) {
      Napi::TypeError::New(env, "connect(slot, generation, dst, port, src, synRetries, userTimeoutMs)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Request r;
    r.cancel = false;
    r.slot = info[0].As<Napi::Number>().Uint32Value();
    r.generation = info[1].As<Napi::Number>().Uint32Value();
    auto dst = info[2].As<Napi::Uint8Array>();
    auto src = info[4].As<Napi::Uint8Array>();
    r.dstLen = FillSockaddr(dst.Data(), dst.ByteLength(), static_cast<uint16_t>(info[3].As<Napi::Number>().Uint32Value()), &r.dst);
    r.srcLen = src.ByteLength() == dst.ByteLength() ? FillSockaddr(src.Data(), src.ByteLength(), 0, &r.src) : 0;
    r.synRetries = info[5].As<Napi::Number>().Int32Value();
    r.userTimeoutMs = info[6].As<Napi::Number>().Int32Value();
    Push(r);
    return env.Undefined();
  }

  // cancel(slot, generation): closes that check's socket if it is still connecting; a Cancelled
  // record follows (or none, when the check had already settled: its record is on its way).
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "cancel(slot, generation)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Request r = {};
    r.cancel = true;
    r.slot = info[0].As<Napi::Number>().Uint32Value();
    r.generation = info[1].As<Napi::Number>().Uint32Value();
    Push(r);
    return env.Undefined();
  }

  void Push(const Request& r) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      incoming_.push_back(r);
      pending_.store(incoming_.size(), std::memory_order_release);
      wake = sleeping_ && !woken_;
      if (wake) woken_ = true;
    }
    // Only a thread asleep in epoll_wait needs the syscall; a busy one finds the request on its
    // next swap, and one request's write wakes it for all that follow.
    if (wake) {
      uint64_t one = 1;
      ssize_t n = write(wake_, &one, sizeof(one));
      (void)n;
    }
  }

  Napi::Value RefLoop(const Napi::CallbackInfo& info) {
    if (thread_.joinable()) onRecords_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    if (thread_.joinable()) onRecords_.Unref(info.Env());
    return info.Env().Undefined();
  }

  // close(): stops the thread and closes every socket still open (linger-0: a RST for any that
  // got its SYN-ACK). Returns how many were open. Records not yet delivered are dropped.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Stop()));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("connects", static_cast<double>(connects_.load()));
    out.Set("settledAtConnect", static_cast<double>(settledAtConnect_.load()));
    out.Set("settledByEpoll", static_cast<double>(settledByEpoll_.load()));
    out.Set("cancelled", static_cast<double>(cancelled_.load()));
    out.Set("rounds", static_cast<double>(rounds_.load()));
    out.Set("sleeps", static_cast<double>(sleeps_.load()));
    out.Set("deliveries", static_cast<double>(deliveries_.load()));
    out.Set("open", static_cast<double>(openSockets_.load()));
    return out;
  }

  size_t Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable()) return 0;
      stopping_ = true;
    }
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof(one));
    (void)n;
    thread_.join();
    size_t open = 0;
    for (Socket& s : sockets_) {
      if (s.fd < 0) continue;
      close(s.fd);
      s.fd = -1;
      open++;
    }
    openSockets_ = 0;
    close(epoll_);
    close(wake_);
    epoll_ = wake_ = -1;
    napi_remove_env_cleanup_hook(env_, &ConnectEngine::OnEnvExit, this);
    onRecords_.Release();
    return open;
  }

  void Run() {
    std::vector<Request> working;
    std::vector<epoll_event> events(kEvents);
    for (;;) {
      // Closes first: every socket already answered is closed before anything new starts.
      Drain(events, 0);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (stopping_) return;
        if (incoming_.empty()) {
          lock.unlock();
          Deliver();
          SpinForWork();
          lock.lock();
        }
        if (stopping_) return;
        if (incoming_.empty()) {
          // Nothing to start: sleep until a socket settles or a request comes (eventfd).
          sleeping_ = true;
          lock.unlock();
          sleeps_++;
          Drain(events, -1);
          lock.lock();
          sleeping_ = false;
          woken_ = false;
          if (stopping_) return;
        }
        std::swap(working, incoming_);
        incoming_.clear();
        pending_.store(0, std::memory_order_relaxed);
      }
      rounds_++;
      int burst = 0;
      for (const Request& r : working) {
        if (r.cancel) {
          CancelOne(r);
          continue;
        }
        Start(r);
        if (++burst == kConnectBurst) {
          burst = 0;
          Drain(events, 0);
        }
      }
      working.clear();
      Deliver();
    }
  }

  // Busy-waits up to kSpin for a request (or stop).
  void SpinForWork() {
    auto until = std::chrono::steady_clock::now() + kSpin;
    while (pending_.load(std::memory_order_acquire) == 0 && !stopping_.load(std::memory_order_relaxed)) {
      if (std::chrono::steady_clock::now() >= until) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  // Handles what epoll reports, waiting up to timeoutMs (0: only what is ready now).
  void Drain(std::vector<epoll_event>& events, int timeoutMs) {
    for (;;) {
      int n = epoll_wait(epoll_, events.data(), kEvents, timeoutMs);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (int i = 0; i < n; i++) {
        uint64_t tag = events[i].data.u64;
        if (tag == kWakeTag) {
          uint64_t count;
          ssize_t r = read(wake_, &count, sizeof(count));
          (void)r;
          continue;
        }
        uint32_t slot = static_cast<uint32_t>(tag);
        uint32_t generation = static_cast<uint32_t>(tag >> 32);
        if (slot >= sockets_.size() || sockets_[slot].fd < 0 || sockets_[slot].generation != generation) continue;
        settledByEpoll_++;
        Finish(slot, (events[i].events & EPOLLERR) != 0);
      }
      if (n < kEvents) return;
      timeoutMs = 0;  // a full batch: more may be ready
    }
  }

  void Start(const Request& r) {
    connects_++;
    if (r.slot >= sockets_.size()) sockets_.resize(std::max<size_t>(r.slot + 1, sockets_.size() * 2));
    Socket& s = sockets_[r.slot];
    if (s.fd >= 0) {  // TypeScript reuses a slot only after its record: never here
      Emit(r.slot, r.generation, kFailed, EBUSY, 0, 0, -1);
      return;
    }
    int fd = socket(r.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
      Emit(r.slot, r.generation, kNotStarted, errno, 0, 0, -1);
      return;
    }
    int off = 0;
    linger lg = {1, 0};
    int err = 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0 ||
        (r.synRetries >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &r.synRetries, sizeof(r.synRetries)) != 0) ||
        (r.userTimeoutMs > 0 &&
         setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &r.userTimeoutMs, sizeof(r.userTimeoutMs)) != 0) ||
        (r.srcLen > 0 && bind(fd, reinterpret_cast<const sockaddr*>(&r.src), r.srcLen) != 0)) {
      err = errno;
    }
    int64_t startedUs = NowUs();
    if (err == 0 && connect(fd, reinterpret_cast<const sockaddr*>(&r.dst), r.dstLen) != 0 && errno != EINPROGRESS) {
      err = errno;
    }
    if (err != 0) {
      close(fd);
      Emit(r.slot, r.generation, kNotStarted, err, 0, 0, -1);
      return;
    }
    s.fd = fd;
    s.generation = r.generation;
    s.startedUs = startedUs;
    openSockets_++;
    // On loopback or a veth pair the SYN-ACK (or RST) was processed before connect() returned
    // (the backlog runs at release_sock): the check is already decided, so settle it now and
    // spare the epoll_ctl and the wait. Elsewhere the socket is still in SYN-SENT.
    tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state != TCP_SYN_SENT) {
      settledAtConnect_++;
      Finish(r.slot, ti.tcpi_state != TCP_ESTABLISHED);
      return;
    }
    epoll_event ev = {};
    ev.events = EPOLLOUT;
    ev.data.u64 = (static_cast<uint64_t>(r.generation) << 32) | r.slot;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      int e = errno;
      CloseSlot(s);
      Emit(r.slot, r.generation, kFailed, e, 0, 0, -1);
    }
  }

  // The connect settled (connected, refused, unreachable, timed out by the kernel): read what
  // TypeScript needs, then the linger-0 close. `failed`: epoll or TCP_INFO said it did not connect.
  void Finish(uint32_t slot, bool failed) {
    Socket& s = sockets_[slot];
    int soError = 0;
    socklen_t len = sizeof(soError);
    if (failed && getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0) {
      int e = errno;
      CloseSlot(s);
      Emit(slot, s.generation, kFailed, e, 0, 0, -1);
      return;
    }
    tcp_info ti;
    len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    getsockopt(s.fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    bool connected = ti.tcpi_state == TCP_ESTABLISHED;
    if (!connected && soError == 0) {
      // Writable but neither connected nor failed with an error: read SO_ERROR after all.
      len = sizeof(soError);
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soError, &len);
      if (soError == 0) soError = ECONNABORTED;
    }
    CloseSlot(s);
    int64_t now = NowUs();
    int64_t elapsed = now - s.startedUs;
    int32_t retrans = static_cast<int32_t>(ti.tcpi_total_retrans);
    // The kernel's RTT is the SYN-ACK's own sample (µs): the first and only one of a connect.
    int64_t rtt = connected && ti.tcpi_rtt > 0 ? ti.tcpi_rtt : elapsed;
    int64_t closeLatency = -1;
    if (connected) {
      // The SYN-ACK was processed at startedUs + rtt when no SYN was retransmitted (the sample
      // is then from the first SYN); otherwise the kernel's ms-granular "last ACK received".
      closeLatency = retrans == 0 ? std::max<int64_t>(0, elapsed - rtt) : static_cast<int64_t>(ti.tcpi_last_ack_recv) * 1000;
    }
    Emit(slot, s.generation, kSettled, connected ? 0 : soError, retrans, Clamp(rtt), Clamp(closeLatency));
  }

  void CancelOne(const Request& r) {
    if (r.slot >= sockets_.size()) return;
    Socket& s = sockets_[r.slot];
    if (s.fd < 0 || s.generation != r.generation) return;
    tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    getsockopt(s.fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    CloseSlot(s);
    cancelled_++;
    Emit(r.slot, r.generation, kCancelled, 0, static_cast<int32_t>(ti.tcpi_total_retrans), 0, -1);
  }

  // close() also removes the fd from the epoll set (it is the only reference to the file).
  void CloseSlot(Socket& s) {
    close(s.fd);
    s.fd = -1;
    openSockets_--;
  }

  static int32_t Clamp(int64_t v) { return v > INT32_MAX ? INT32_MAX : static_cast<int32_t>(v); }

  void Emit(uint32_t slot, uint32_t generation, Kind kind, int err, int32_t retrans, int32_t rttUs, int32_t closeUs) {
    int32_t r[kRecordInts] = {static_cast<int32_t>(slot), static_cast<int32_t>(generation), kind, err, retrans, rttUs, closeUs};
    pendingRecords_.insert(pendingRecords_.end(), r, r + kRecordInts);
  }

  // Hands the round's records to JavaScript: appended to the outbox, and one call queued unless
  // one already is (the records pile up behind it while the event loop is busy: one call then
  // carries them all).
  void Deliver() {
    if (pendingRecords_.empty()) return;
    bool queue;
    {
      std::lock_guard<std::mutex> lock(outbox_->mutex);
      outbox_->records.insert(outbox_->records.end(), pendingRecords_.begin(), pendingRecords_.end());
      queue = !outbox_->callQueued;
      outbox_->callQueued = true;
    }
    pendingRecords_.clear();
    if (!queue) return;
    deliveries_++;
    auto* box = new std::shared_ptr<Outbox>(outbox_);
    napi_status status = onRecords_.NonBlockingCall(box, [](Napi::Env env, Napi::Function callback, std::shared_ptr<Outbox>* data) {
      std::vector<int32_t> records;
      {
        std::lock_guard<std::mutex> lock((*data)->mutex);
        records.swap((*data)->records);
        (*data)->callQueued = false;
      }
      delete data;
      if (env == nullptr || callback == nullptr || records.empty()) return;
      Napi::Int32Array out = Napi::Int32Array::New(env, records.size());
      memcpy(out.Data(), records.data(), records.size() * sizeof(int32_t));
      callback.Call({out});
    });
    if (status != napi_ok) {
      delete box;
      std::lock_guard<std::mutex> lock(outbox_->mutex);
      outbox_->callQueued = false;
    }
  }

  napi_env env_ = nullptr;
  int epoll_ = -1;
  int wake_ = -1;
  Napi::ThreadSafeFunction onRecords_;
  std::thread thread_;
  // Requests from JavaScript (mutex_).
  std::mutex mutex_;
  std::vector<Request> incoming_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> stopping_{false};
  bool sleeping_ = false;
  bool woken_ = false;
  // The engine thread's own (and Stop()'s, after the join).
  std::vector<Socket> sockets_;
  std::vector<int32_t> pendingRecords_;
  std::shared_ptr<Outbox> outbox_ = std::make_shared<Outbox>();
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> settledAtConnect_{0};
  std::atomic<uint64_t> settledByEpoll_{0};
  std::atomic<uint64_t> cancelled_{0};
  std::atomic<uint64_t> rounds_{0};
  std::atomic<uint64_t> sleeps_{0};
  std::atomic<uint64_t> deliveries_{0};
  std::atomic<int64_t> openSockets_{0};
};

}  // namespace

void InitConnect(Napi::Env env, Napi::Object exports) {
  exports.Set("ConnectEngine", ConnectEngine::Init(env));
}
