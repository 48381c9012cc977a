// A raw socket drained by a thread of its own.
//
// Why a thread: on a veth pair or loopback the kernel runs the receiver's whole network stack
// inside the sender's sendmmsg(2) — the target's SYN-ACK is built, routed back and captured
// before the call returns. That is most of the CPU a half-open check costs, and in the event
// loop's thread it would stall the JavaScript that parses replies and builds the next SYNs.
// Here JavaScript copies finished packets into this queue (a memcpy of ~60 bytes each) and goes
// on; the thread sends them in batches on the other core. A hand-over of only a few packets
// that finds the thread asleep is sent on the calling thread instead (kSendHereMax): one check
// at a time, or a trickle, would otherwise pay a thread wake-up per hand-over.
//
// What stays in TypeScript (src/native/sender.ts): building packets, when to flush, what a send
// error means for a probe. This file only moves bytes and reports failures, each with the two
// numbers the caller attached to the packet.

#include "modules.h"
#include "sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// Packets held at most (queued + being sent): past it, enqueue() takes fewer and TypeScript
// keeps the rest, as a full socket buffer would make it.
constexpr size_t kMaxQueued = 1 << 16;
// Messages per sendmmsg(2); the kernel caps a call at UIO_MAXIOV (1024).
constexpr size_t kBatch = 1024;
// A full device queue (ENOBUFS) cannot be polled for; wait this long before trying again.
constexpr int kBackoffMs = 1;
// After a batch the thread looks for the next one this long before it sleeps: under load the
// next hand-over comes within microseconds, and finding it awake spares the JavaScript thread a
// futex wake-up per tick. A spin that finds nothing switches spinning off until a sleep ends
// within kSpin again (see Run), so a trickle does not pay kSpin of CPU per hand-over.
constexpr auto kSpin = std::chrono::microseconds(50);
// A hand-over of at most this many packets, found with the thread asleep and nothing queued, is
// sent on the JavaScript thread. Waking the thread is the dearer way to send a few packets: the
// futex call and the wake-up cost more than sendmmsg(2) itself (on this project's 2-core VM a
// wake-up is 15-25 us of the sender's CPU, a small sendmmsg a few us), and a strict ping-pong
// (-c 1: an RST and the next SYN per hand-over) paid one per check, at 35-60k checks/s against
// 90-100k inline. Larger hand-overs come from a busy event loop (EAGER_HANDOVER in
// src/native/sender.ts is 16): those go to the thread, which sends them on the other core.
// (A rule based on the time since the previous hand-over sent a trickle's SYNs here but not the
// RST that follows each within microseconds, and no back-to-back single check at all.)
constexpr size_t kSendHereMax = 4;
// A larger hand-over (up to kSendHereQuietMax) is sent here too within kAfterPause of a pause
// (a hand-over at least kQuiet after the previous one): at a trickle, a burst (a timer that fell
// behind starting several checks at once, a monitor's rounds due together) and the RSTs that
// follow it would otherwise wake the thread, and on a loaded machine a woken thread can wait
// tens of milliseconds for a core while every later hand-over queues behind it (seen as a p99 of
// 27-97 ms at 1000 checks/s with the load average at 3-7 on 2 cores). Under load hand-overs come
// microseconds apart, there is no pause, and this never applies.
constexpr size_t kSendHereQuietMax = 64;
constexpr auto kQuiet = std::chrono::microseconds(250);
constexpr auto kAfterPause = std::chrono::milliseconds(1);
// With the caller busy (many checks in flight), only a pause this long makes a hand-over count
// as after a pause. A loaded loop leaves gaps of a few hundred µs between hand-overs (a GC, a
// capture batch): with kQuiet, 20-70% of the packets at -c 100-1000 went inline. A monitor's
// rounds come in windows tens of milliseconds apart, each after such a pause.
constexpr auto kBusyQuiet = std::chrono::milliseconds(5);

struct Packet {
  uint32_t offset;  // into Queue::bytes
  uint32_t length;
  uint32_t tag;
  uint32_t generation;
  sockaddr_storage dst;
  socklen_t dstLen;
};

struct Queue {
  std::vector<uint8_t> bytes;
  std::vector<Packet> packets;
  void clear() {
    bytes.clear();
    packets.clear();
  }
};

struct SendFailure {
  int error;
  uint32_t tag;
  uint32_t generation;
};

class Sender : public Napi::ObjectWrap<Sender> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Sender",
                       {InstanceMethod("attach", &Sender::Attach),
                        InstanceMethod("enqueue", &Sender::Enqueue),
                        InstanceMethod("close", &Sender::Close),
                        InstanceMethod("stats", &Sender::Stats)});
  }

  // new Sender(fd, onFailures: (failures: Int32Array [errno, tag, generation]...) => void)
  // The caller keeps owning fd and closes it after close().
  explicit Sender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sender>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new Sender(fd, onFailures)").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    onFailures_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "tcp-shaker sender", 0, 1);
    // Failures are rare and must not keep an idle process alive.
    onFailures_.Unref(env);
    napi_add_env_cleanup_hook(env, &Sender::OnEnvExit, this);
    env_ = env;
    thread_ = std::thread(&Sender::Run, this);
    // Named, so top -H and the benchmark's per-thread CPU (bench/workloads/driver.ts) find it.
    pthread_setname_np(thread_.native_handle(), "tshk-sender");
  }

  ~Sender() override { Stop(0); }

 private:
  static void OnEnvExit(void* self) { static_cast<Sender*>(self)->Stop(0); }

  // attach(ring: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, tags: Uint32Array,
  //        generations: Uint32Array, family: 4 | 6)
  // The caller's queue, given once: enqueue() then takes only a count, because at 100k checks a
  // second re-reading five typed arrays from JavaScript on every hand-over is a cost of its own.
  // The arrays stay referenced (never collected) until close().
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
        !info[3].IsTypedArray() || !info[4].IsTypedArray() || !info[5].IsNumber()) {
      Napi::TypeError::New(env, "attach(ring, offsets, lengths, tags, generations, family)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto ring = info[0].As<Napi::Uint8Array>();
    auto offsets = info[1].As<Napi::Uint32Array>();
    auto lengths = info[2].As<Napi::Uint32Array>();
    auto tags = info[3].As<Napi::Uint32Array>();
    auto generations = info[4].As<Napi::Uint32Array>();
    size_t capacity = offsets.ElementLength();
    if (lengths.ElementLength() != capacity || tags.ElementLength() != capacity ||
        generations.ElementLength() != capacity) {
      Napi::RangeError::New(env, "attach: offsets, lengths, tags and generations differ in length")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    for (size_t i = 0; i < 5; i++) attached_[i] = Napi::Persistent(info[i].As<Napi::Object>());
    ring_ = ring.Data();
    ringBytes_ = ring.ByteLength();
    offsets_ = offsets.Data();
    lengths_ = lengths.Data();
    tags_ = tags.Data();
    generations_ = generations.Data();
    capacity_ = capacity;
    v4_ = info[5].As<Napi::Number>().Int32Value() == 4;
    return env.Undefined();
  }

  // enqueue(count): copies the first `accepted` of the `count` packets described by the attached
  // arrays and returns `accepted`; the caller drops them from its ring. Each packet is a whole IP
  // packet (the socket is IPPROTO_RAW) and goes to the destination in its own header.
  Napi::Value Enqueue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (ring_ == nullptr || info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "enqueue(count) after attach()").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    size_t count = info[0].As<Napi::Number>().Uint32Value();
    // enqueue(count, busy): with busy (many checks in flight: the event loop is the engine's
    // bottleneck) only a hand-over right after a long pause (kBusyQuiet) is sent inline. Sending
    // inline puts the target's kernel work on the event loop's core (on a veth the whole TCP stack of the target runs inside sendmmsg), and a
    // loaded loop hands over in small batches, so it would pay that for most packets while the
    // sender's core idles.
    const bool busy = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    // IPv4 destination at byte 16, IPv6 at 24 (RFC 791, RFC 8200): a packet must hold its header.
    const size_t dstAt = v4_ ? 16 : 24;
    const size_t dstLen = v4_ ? 4 : 16;
    if (count > capacity_) {
      Napi::RangeError::New(env, "enqueue: count exceeds the attached arrays").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    for (size_t i = 0; i < count; i++) {
      if (static_cast<size_t>(offsets_[i]) + lengths_[i] > ringBytes_ || lengths_[i] < dstAt + dstLen) {
        Napi::RangeError::New(env, "enqueue: packet outside the ring or shorter than its IP header")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    size_t accepted = 0;
    bool wake = false;
    bool sendHere = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return Napi::Number::New(env, 0);
      // A few packets for a sleeping thread: waking it costs more than sending them, and on a
      // VM the wake-up can take a millisecond at the tail, which a health checker's latency
      // would show. Nothing may be queued or in flight, so packets never overtake earlier ones
      // (a probe's RST its own SYN). A spinning or busy thread takes them without a wake-up.
      // The pause is measured from the end of the previous hand-over: an inline send that took
      // kQuiet (a slow sendmmsg on a loaded machine) must not make the next look like a trickle.
      auto now = std::chrono::steady_clock::now();
      if (now - lastHandoverEnd_ >= kQuiet) pauseEndedAt_ = now;
      if (now - lastHandoverEnd_ >= kBusyQuiet) longPauseEndedAt_ = now;
      bool afterPause = now - (busy ? longPauseEndedAt_ : pauseEndedAt_) <= kAfterPause;
      // `busy` forbids the trickle rule, and makes a pause one of kBusyQuiet: after such a pause
      // the loop is not under load whatever its count of checks in flight (a monitor's window of
      // rounds due together puts tens in flight at once, then their RSTs; waking the thread for
      // each cost more CPU a check than the sends themselves at 1000 checks/s).
      sendHere = idle_ && incoming_.packets.empty() && inFlight_ == 0 &&
                 ((count <= kSendHereMax && !busy) || (afterPause && count <= kSendHereQuietMax));
    }
    if (sendHere) {
      size_t sent = SendHere(count, dstAt, dstLen);
      lastHandoverEnd_ = std::chrono::steady_clock::now();
      return Napi::Number::New(env, static_cast<double>(sent));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t room = kMaxQueued - std::min(kMaxQueued, incoming_.packets.size() + inFlight_);
      accepted = std::min(room, count);
      for (size_t i = 0; i < accepted; i++) QueueLocked(Describe(i, dstAt, dstLen));
      pending_.store(incoming_.packets.size(), std::memory_order_release);
      wake = idle_ && accepted > 0;
    }
    // Only a sleeping thread needs the futex call; a busy one finds the packets on its next swap.
    if (wake) {
      wakeups_++;
      ready_.notify_one();
    }
    lastHandoverEnd_ = std::chrono::steady_clock::now();
    return Napi::Number::New(env, static_cast<double>(accepted));
  }

  // Attached packet i, still in the caller's ring (offset into ring_).
  Packet Describe(size_t i, size_t dstAt, size_t dstLen) const {
    Packet p;
    p.offset = offsets_[i];
    p.length = lengths_[i];
    p.tag = tags_[i];
    p.generation = generations_[i];
    p.dstLen = FillSockaddr(ring_ + offsets_[i] + dstAt, dstLen, 0, &p.dst);
    return p;
  }

  // Copies a described packet's bytes into incoming_ (the caller holds mutex_).
  void QueueLocked(Packet p) {
    const uint8_t* packet = ring_ + p.offset;
    p.offset = static_cast<uint32_t>(incoming_.bytes.size());
    incoming_.bytes.insert(incoming_.bytes.end(), packet, packet + p.length);
    incoming_.packets.push_back(p);
  }

  // Sends `count` attached packets on the calling (JavaScript) thread; what the socket buffer
  // does not take goes to the thread. Returns count: every packet is sent or queued.
  size_t SendHere(size_t count, size_t dstAt, size_t dstLen) {
    Queue& q = here_;
    q.clear();
    for (size_t i = 0; i < count; i++) q.packets.push_back(Describe(i, dstAt, dstLen));
    // The packets stay in the caller's ring: it is not touched before this call returns.
    size_t done = SendFrom(q, ring_, false, hereMsgs_, hereIovs_, hereFailures_);
    if (!hereFailures_.empty()) Report(hereFailures_);
    if (done < count) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = done; i < count; i++) QueueLocked(q.packets[i]);
        pending_.store(incoming_.packets.size(), std::memory_order_release);
      }
      wakeups_++;
      ready_.notify_one();
    }
    here_sent_ += done;
    return count;
  }

  // close(drainMs): sends what is queued for at most drainMs, then stops the thread. The caller
  // closes the fd afterwards. Returns how many packets were left unsent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    int drainMs = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    size_t left = Stop(drainMs);
    return Napi::Number::New(info.Env(), static_cast<double>(left));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("packetsSent", static_cast<double>(sent_.load()));
    out.Set("batches", static_cast<double>(batches_.load()));
    out.Set("sendErrors", static_cast<double>(errors_.load()));
    out.Set("blockedWaits", static_cast<double>(blocked_.load()));
    out.Set("sentInline", static_cast<double>(here_sent_.load()));
    out.Set("wakeups", static_cast<double>(wakeups_.load()));
    std::lock_guard<std::mutex> lock(mutex_);
    out.Set("queued", static_cast<double>(incoming_.packets.size() + inFlight_));
    return out;
  }

  size_t Stop(int drainMs) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!thread_.joinable()) return 0;
    if (drainMs > 0) {
      drained_.wait_for(lock, std::chrono::milliseconds(drainMs),
                        [this] { return incoming_.packets.empty() && inFlight_ == 0; });
    }
    stopping_ = true;
    size_t left = incoming_.packets.size() + inFlight_;
    lock.unlock();
    ready_.notify_one();
    thread_.join();
    napi_remove_env_cleanup_hook(env_, &Sender::OnEnvExit, this);
    onFailures_.Release();
    ring_ = nullptr;
    return left;
  }

  void Run() {
    Queue sending;
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<iovec> iovs(kBatch);
    std::vector<SendFailure> failures;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        inFlight_ = 0;
        bool slept = false;
        std::chrono::steady_clock::time_point sleptAt;
        if (incoming_.packets.empty()) {
          drained_.notify_all();
          lock.unlock();
          // A spin that finds nothing turns spinning off until a sleep proves short enough
          // that a spin would have caught its wake-up: at a trickle (a monitor's 1000 checks a
          // second) each spin would otherwise burn kSpin of CPU per hand-over for nothing.
          if (spin_ && !SpinForWork()) spin_ = false;
          lock.lock();
          slept = incoming_.packets.empty() && !stopping_;
          if (slept) sleptAt = std::chrono::steady_clock::now();
        }
        idle_ = true;
        ready_.wait(lock, [this] { return stopping_ || !incoming_.packets.empty(); });
        idle_ = false;
        if (slept && std::chrono::steady_clock::now() - sleptAt < kSpin) spin_ = true;
        if (stopping_) return;
        // Swap, not copy: the JavaScript thread fills the other queue while this one is sent.
        std::swap(sending, incoming_);
        incoming_.clear();
        pending_.store(0, std::memory_order_relaxed);
        inFlight_ = sending.packets.size();
      }
      SendFrom(sending, sending.bytes.data(), true, msgs, iovs, failures);
      sending.clear();
      if (!failures.empty()) Report(failures);
    }
  }

  // Busy-waits up to kSpin for enqueue() to add packets (or close() to stop us); false when
  // the time ran out with nothing to do.
  bool SpinForWork() {
    auto until = std::chrono::steady_clock::now() + kSpin;
    while (pending_.load(std::memory_order_acquire) == 0 && !stopping_.load(std::memory_order_relaxed)) {
      if (std::chrono::steady_clock::now() >= until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    return true;
  }

  // Sends q's packets (their bytes at `bytes` + offset) from the first; returns how many went
  // out or were refused. With mayWait, a full socket buffer is waited out (the sender thread);
  // without, it ends the call early (the JavaScript thread must not block).
  size_t SendFrom(Queue& q, const uint8_t* bytes, bool mayWait, std::vector<mmsghdr>& msgs, std::vector<iovec>& iovs,
                  std::vector<SendFailure>& failures) {
    size_t next = 0;
    while (next < q.packets.size()) {
      size_t n = std::min(kBatch, q.packets.size() - next);
      for (size_t i = 0; i < n; i++) {
        Packet& p = q.packets[next + i];
        iovs[i].iov_base = const_cast<uint8_t*>(bytes) + p.offset;
        iovs[i].iov_len = p.length;
        memset(&msgs[i], 0, sizeof(mmsghdr));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &p.dst;
        msgs[i].msg_hdr.msg_namelen = p.dstLen;
      }
      int rc = sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
      if (rc > 0) {
        next += static_cast<size_t>(rc);
        sent_ += static_cast<uint64_t>(rc);
        batches_++;
        continue;
      }
      int err = rc < 0 ? errno : EAGAIN;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        // Congestion, not failure: wait for room, unless we are told to stop.
        blocked_++;
        if (stopping_ || !mayWait) return next;
        pollfd pfd = {fd_, POLLOUT, 0};
        poll(&pfd, 1, kBackoffMs);
        continue;
      }
      // sendmmsg stops at the first message the kernel refuses (EPERM from a firewall,
      // ENETUNREACH...): report that one and go on with the rest.
      errors_++;
      failures.push_back({err, q.packets[next].tag, q.packets[next].generation});
      next++;
    }
    return next;
  }

  void Report(std::vector<SendFailure>& failures) {
    auto* batch = new std::vector<SendFailure>(std::move(failures));
    failures.clear();
    napi_status status = onFailures_.NonBlockingCall(batch, [](Napi::Env env, Napi::Function callback,
                                                                std::vector<SendFailure>* data) {
      if (env != nullptr && callback != nullptr) {
        Napi::Int32Array out = Napi::Int32Array::New(env, data->size() * 3);
        for (size_t i = 0; i < data->size(); i++) {
          out[i * 3] = (*data)[i].error;
          out[i * 3 + 1] = static_cast<int32_t>((*data)[i].tag);
          out[i * 3 + 2] = static_cast<int32_t>((*data)[i].generation);
        }
        callback.Call({out});
      }
      delete data;
    });
    if (status != napi_ok) delete batch;
  }

  int fd_ = -1;
  napi_env env_ = nullptr;
  // The caller's queue (attach()): read on the JavaScript thread only, inside enqueue().
  Napi::ObjectReference attached_[5];
  const uint8_t* ring_ = nullptr;
  size_t ringBytes_ = 0;
  const uint32_t* offsets_ = nullptr;
  const uint32_t* lengths_ = nullptr;
  const uint32_t* tags_ = nullptr;
  const uint32_t* generations_ = nullptr;
  size_t capacity_ = 0;
  bool v4_ = true;
  // SendHere's scratch, JavaScript thread only.
  Queue here_;
  std::vector<mmsghdr> hereMsgs_ = std::vector<mmsghdr>(kSendHereQuietMax);
  std::vector<iovec> hereIovs_ = std::vector<iovec>(kSendHereQuietMax);
  std::vector<SendFailure> hereFailures_;
  std::atomic<uint64_t> here_sent_{0};
  // When the previous hand-over returned, and the first hand-over after a pause of at least
  // kQuiet (and of kBusyQuiet) began (JavaScript thread only, like enqueue()).
  std::chrono::steady_clock::time_point lastHandoverEnd_{};
  std::chrono::steady_clock::time_point pauseEndedAt_{};
  std::chrono::steady_clock::time_point longPauseEndedAt_{};
  // Hand-overs that woke the sleeping thread (a futex call each), counted on the JavaScript thread.
  std::atomic<uint64_t> wakeups_{0};
  Napi::ThreadSafeFunction onFailures_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable drained_;
  // Whether the thread spins before sleeping (only the sender thread reads or writes it).
  bool spin_ = true;
  Queue incoming_;
  size_t inFlight_ = 0;
  bool idle_ = false;
  std::atomic<bool> stopping_{false};
  // incoming_.packets.size(), readable without the lock (the spin loop reads it).
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> blocked_{0};
};

}  // namespace

void InitSender(Napi::Env env, Napi::Object exports) {
  exports.Set("Sender", Sender::Init(env));
}
