// The addon is one module made of a few files, one job each; every file registers its exports.
#pragma once

#include <napi.h>

// native/connect.cc: the unprivileged half-open trick (connectStart, WritableWatch, ...).
void InitConnect(Napi::Env env, Napi::Object exports);
// native/capture.cc: libpcap capture read in batches (Capture class).
void InitCapture(Napi::Env env, Napi::Object exports);
// native/sender.cc: a raw socket drained by its own thread (Sender class).
void InitSender(Napi::Env env, Napi::Object exports);
