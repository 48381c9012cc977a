// Live capture through libpcap, handed to JavaScript in batches.
//
// Why batches: a JavaScript call per packet costs more than everything else the engine does
// with a reply, and at 100k+ packets/s it is the bottleneck. Here each readable event drains
// libpcap's ring into one preallocated buffer of records and JavaScript is called once per
// full (or final) buffer. No packet parsing happens here: src/native/capture.ts reads
// the records, src/capture/pcap.ts turns failures into typed errors.
//
// Record layout, native byte order; every record starts 8-byte aligned so the f64 is aligned:
//   u32 captured length | u32 original length | f64 timestamp, µs since the Unix epoch
//   captured bytes, zero-padded to a multiple of 8
// The timestamp is the kernel's receive time at nanosecond precision where libpcap offers it;
// an f64 holds today's epoch µs to about 0.25 µs, which is all the nanoseconds are worth here.

#include "modules.h"

#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include <string>

namespace {

// Big enough for thousands of header-sized records, and for one record of libpcap's largest
// snap length (262144), so a batch always has room for at least one packet.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kRecordHeaderBytes = 16;
// Batches handed over per readable event before yielding to the event loop (timers, sends,
// other captures). The poll is level-triggered, so what is left in the ring wakes us again.
constexpr int kMaxBatchesPerWakeup = 4;
// From linux/if_packet.h, for headers older than Linux 4.20.
#ifdef PACKET_IGNORE_OUTGOING
constexpr int kPacketIgnoreOutgoing = PACKET_IGNORE_OUTGOING;
#else
constexpr int kPacketIgnoreOutgoing = 23;
#endif

size_t PadTo8(size_t n) { return (n + 7) & ~static_cast<size_t>(7); }

class Capture;

// The libuv handle outlives the Capture that opened it: uv_close completes on a later loop
// turn, possibly after the JavaScript object was collected. It also carries the environment
// cleanup hook, which must stay registered until that close completes (see OnEnvTeardown).
struct Watch {
  uv_poll_t poll;
  Capture* owner = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
};

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Capture", {
      InstanceMethod("close", &Capture::Close),
      InstanceMethod("stats", &Capture::Stats),
    });
  }

  // new Capture(iface, filter, bufferSize, snapLength, onBatch(count, bytes, error?))
  // Throws an Error with libpcap's message and `step` (the libpcap call that failed) and
  // `status` (its PCAP_ERROR_* code) when the capture cannot be opened.
  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
        !info[3].IsNumber() || !info[4].IsFunction()) {
      throw Napi::TypeError::New(env, "new Capture(iface, filter, bufferSize, snapLength, onBatch)");
    }
    Open(env, info[0].As<Napi::String>(), info[1].As<Napi::String>(),
         info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Int32Value());
    try {
      auto batch = Napi::ArrayBuffer::New(env, kBatchBytes);
      batch_ = static_cast<uint8_t*>(batch.Data());
      batch_ref_ = Napi::Persistent(batch);
      on_batch_ = Napi::Persistent(info[4].As<Napi::Function>());
      info.This().As<Napi::Object>().DefineProperties({
        Napi::PropertyDescriptor::Value("batch", Napi::Uint8Array::New(env, kBatchBytes, batch, 0), napi_enumerable),
        Napi::PropertyDescriptor::Value("linkType", Napi::Number::New(env, pcap_datalink(pcap_)), napi_enumerable),
      });
    } catch (...) {
      Release(false);  // the destructor does not run when a constructor throws
      throw;
    }
    napi_async_init(env, nullptr, Napi::String::New(env, "tcp-shaker:capture"), &async_context_);
    // While open, the poll callback holds a pointer to this object: keep it from being collected.
    Ref();
    referenced_ = true;
  }

  ~Capture() override {
    Release(false);
    // Here rather than in close(), which may run inside a callback made with this context.
    if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
  }

 private:
  // Activates the capture or throws; on a throw nothing is left open.
  void Open(Napi::Env env, const std::string& iface, const std::string& filter, int buffer_size, int snap_length) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(iface.c_str(), errbuf);
    if (p == nullptr) throw PcapError(env, "pcap_create", PCAP_ERROR, errbuf);
    pcap_set_snaplen(p, snap_length);
    // Only traffic addressed to this host matters; promiscuous mode would make the NIC hand
    // the kernel every frame on the segment for the filter to throw away.
    pcap_set_promisc(p, 0);
    // Deliver each packet as it arrives rather than when a buffer fills or a timeout fires:
    // replies are timed. (libpcap then uses TPACKET_V2, a ring of snap-length-sized frames.)
    pcap_set_immediate_mode(p, 1);
    if (buffer_size > 0) pcap_set_buffer_size(p, buffer_size);
    // Not every libpcap build offers nanoseconds; microseconds are fine then.
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int status = pcap_activate(p);
    // status > 0 is a warning (e.g. a timestamp type not supported): the capture works.
    if (status < 0) throw Fail(env, p, "pcap_activate", status);
    nano_ = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    // Received packets only: on loopback each packet passes the tap twice, once outgoing and
    // once incoming, and the engine's own SYNs are of no interest. Some platforms cannot
    // filter on direction; the engine ignores what it sent, so carry on without it.
    pcap_setdirection(p, PCAP_D_IN);
    // libpcap drops outgoing packets only after the kernel has cloned each one into the ring's
    // path and run the filter on it: per check, our SYN and our RST, on the sender thread, which
    // is the engine's bottleneck. PACKET_IGNORE_OUTGOING (Linux 4.20) skips that before the clone.
    // On loopback the incoming copy of every packet still arrives. An older kernel refuses the
    // option, and libpcap's own check still applies.
    int ignore_outgoing = 1;
    setsockopt(pcap_fileno(p), SOL_PACKET, kPacketIgnoreOutgoing, &ignore_outgoing, sizeof ignore_outgoing);
    bpf_program program;
    if (pcap_compile(p, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      throw Fail(env, p, "pcap_compile", PCAP_ERROR);
    }
    status = pcap_setfilter(p, &program);
    pcap_freecode(&program);
    if (status != 0) throw Fail(env, p, "pcap_setfilter", PCAP_ERROR);
    if (pcap_setnonblock(p, 1, errbuf) != 0) throw PcapError(env, "pcap_setnonblock", PCAP_ERROR, errbuf, p);
    // The ring may hold packets that arrived between activation and pcap_setfilter, which the
    // filter never saw. The capture starts now: drop them, so every packet handed over matches.
    while (pcap_dispatch(p, -1, [](u_char*, const pcap_pkthdr*, const u_char*) {}, nullptr) > 0) {
    }
    int fd = pcap_get_selectable_fd(p);
    if (fd < 0) throw PcapError(env, "pcap_get_selectable_fd", PCAP_ERROR, "no selectable descriptor", p);

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* watch = new Watch;
    int rc = uv_poll_init(loop, &watch->poll, fd);
    if (rc != 0) {
      delete watch;  // never registered with the loop, so no uv_close
      throw PcapError(env, "uv_poll_init", PCAP_ERROR, uv_strerror(rc), p);
    }
    watch->poll.data = watch;
    rc = uv_poll_start(&watch->poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), OnWatchClosed);
      throw PcapError(env, "uv_poll_start", PCAP_ERROR, uv_strerror(rc), p);
    }
    // A worker's loop must hold no handle when it is torn down, and a synchronous cleanup
    // hook cannot wait for uv_close; an async one can.
    napi_add_async_cleanup_hook(env, OnEnvTeardown, watch, &watch->hook);
    watch->owner = this;
    watch_ = watch;
    pcap_ = p;
    snapshot_ = static_cast<size_t>(pcap_snapshot(p));
  }

  // libpcap's text for a failed call on an open handle, then the handle is closed.
  static Napi::Error Fail(Napi::Env env, pcap_t* p, const char* step, int status) {
    std::string message = pcap_geterr(p);
    // PCAP_ERROR carries all it knows in pcap_geterr; the specific codes have a fixed text
    // and sometimes a detail (e.g. which ioctl found no such device).
    if (status != PCAP_ERROR) {
      message = message.empty() ? pcap_statustostr(status) : std::string(pcap_statustostr(status)) + " (" + message + ")";
    }
    return PcapError(env, step, status, message, p);
  }

  static Napi::Error PcapError(Napi::Env env, const char* step, int status, const std::string& message,
                               pcap_t* to_close = nullptr) {
    if (to_close != nullptr) pcap_close(to_close);
    Napi::Error error = Napi::Error::New(env, message.empty() ? pcap_statustostr(status) : message);
    error.Set("step", Napi::String::New(env, step));
    error.Set("status", Napi::Number::New(env, status));
    return error;
  }

  static void OnWatchClosed(uv_handle_t* handle) {
    auto* watch = static_cast<Watch*>(handle->data);
    if (watch->hook != nullptr) napi_remove_async_cleanup_hook(watch->hook);
    delete watch;
  }

  // The environment is going away (process exit, worker terminated) with this capture open.
  // Closing starts uv_close; OnWatchClosed then removes the hook, which tells Node we are done.
  static void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
    auto* watch = static_cast<Watch*>(arg);
    if (watch->owner != nullptr) watch->owner->Release(true);
  }

  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* watch = static_cast<Watch*>(handle->data);
    if (watch->owner != nullptr) watch->owner->Drain(status);
  }

  static void OnPacket(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
    auto* self = reinterpret_cast<Capture*>(user);
    // Drain() asks for no more packets than fit at snapshot_ bytes each; the clamp only
    // guards against a libpcap that hands over more than its own snap length.
    uint32_t captured = header->caplen <= self->snapshot_ ? header->caplen : static_cast<uint32_t>(self->snapshot_);
    double microseconds = static_cast<double>(header->ts.tv_sec) * 1e6 +
                          (self->nano_ ? header->ts.tv_usec / 1000.0 : static_cast<double>(header->ts.tv_usec));
    uint8_t* at = self->batch_ + self->used_;
    memcpy(at, &captured, 4);
    memcpy(at + 4, &header->len, 4);
    memcpy(at + 8, &microseconds, 8);
    memcpy(at + kRecordHeaderBytes, bytes, captured);
    size_t padded = PadTo8(captured);
    memset(at + kRecordHeaderBytes + captured, 0, padded - captured);
    self->used_ += kRecordHeaderBytes + padded;
    self->count_++;
  }

  void Drain(int poll_status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // JavaScript may drop its last reference (close()) inside a callback; stay alive until done.
    Napi::Object self = Value();
    const size_t max_record = kRecordHeaderBytes + PadTo8(snapshot_);
    for (int batches = 0; pcap_ != nullptr && batches < kMaxBatchesPerWakeup;) {
      int room = static_cast<int>((kBatchBytes - used_) / max_record);
      int n = room > 0 ? pcap_dispatch(pcap_, room, OnPacket, reinterpret_cast<u_char*>(this)) : 0;
      if (n < 0) {
        std::string message = pcap_geterr(pcap_);
        Deliver(self);
        Stop(self, message);
        return;
      }
      bool ring_empty = n < room;
      if (ring_empty || (kBatchBytes - used_) < max_record) {
        Deliver(self);
        batches++;
      }
      if (ring_empty) break;
    }
    // libuv stops polling by itself after an error (POLLERR: e.g. the interface is gone).
    if (poll_status < 0 && pcap_ != nullptr) Stop(self, std::string("poll failed: ") + uv_strerror(poll_status));
  }

  // One JavaScript call for the records gathered so far.
  void Deliver(Napi::Object self) {
    if (count_ == 0) return;
    Napi::Env env = Env();
    uint32_t count = count_;
    size_t bytes = used_;
    count_ = 0;
    used_ = 0;
    Call(self, {Napi::Number::New(env, count), Napi::Number::New(env, static_cast<double>(bytes))});
  }

  // The capture failed for good: stop polling so a dead descriptor does not spin the loop, and
  // say why. The handle stays open so stats() still answers; close() releases it.
  void Stop(Napi::Object self, const std::string& message) {
    if (watch_ != nullptr) uv_poll_stop(&watch_->poll);
    Napi::Env env = Env();
    Call(self, {Napi::Number::New(env, 0), Napi::Number::New(env, 0), Napi::String::New(env, message)});
  }

  void Call(Napi::Object self, const std::initializer_list<napi_value>& args) {
    if (on_batch_.IsEmpty()) return;
    try {
      on_batch_.MakeCallback(self, args, async_context_);
    } catch (const Napi::Error&) {
      // The TypeScript side catches its own handler's errors; one escaping anyway costs this
      // batch, not the capture (rethrowing into libuv would terminate the process).
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(true);
    return info.Env().Undefined();
  }

  // { received, dropped, ifDropped } from pcap_stats; after close, the last values read.
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    ReadStats();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("received", Napi::Number::New(info.Env(), stats_.ps_recv));
    out.Set("dropped", Napi::Number::New(info.Env(), stats_.ps_drop));
    out.Set("ifDropped", Napi::Number::New(info.Env(), stats_.ps_ifdrop));
    return out;
  }

  void ReadStats() {
    pcap_stat now;
    if (pcap_ != nullptr && pcap_stats(pcap_, &now) == 0) stats_ = now;
  }

  // Idempotent. From a finalizer (from_js false) the wrapper's own reference is already being
  // torn down, so it is left alone.
  void Release(bool from_js) {
    if (watch_ != nullptr) {
      // Before pcap_close: libuv must stop watching a descriptor before it is closed.
      watch_->owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&watch_->poll), OnWatchClosed);
      watch_ = nullptr;
    }
    if (pcap_ != nullptr) {
      ReadStats();
      pcap_close(pcap_);
      pcap_ = nullptr;
    }
    on_batch_.Reset();
    if (from_js && referenced_) {
      referenced_ = false;
      Unref();
    }
  }

  pcap_t* pcap_ = nullptr;
  Watch* watch_ = nullptr;
  bool nano_ = false;
  bool referenced_ = false;
  size_t snapshot_ = 0;
  pcap_stat stats_ = {};
  Napi::FunctionReference on_batch_;
  napi_async_context async_context_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> batch_ref_;
  uint8_t* batch_ = nullptr;
  size_t used_ = 0;
  uint32_t count_ = 0;
};

}  // namespace

void InitCapture(Napi::Env env, Napi::Object exports) {
  exports.Set("Capture", Capture::Init(env));
}
