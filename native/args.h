// Argument checks shared by the addon's files. A failed check is a TypeError: TypeScript's types
// already make it impossible, so reaching one is a bug on the TypeScript side, not a runtime error.
#pragma once

#include <napi.h>

inline Napi::Value Fail(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// An IPv4 or IPv6 address as TypeScript passes it: 4 or 16 bytes in network order.
inline bool IsAddress(const Napi::Value& v) {
  if (!v.IsTypedArray()) return false;
  auto a = v.As<Napi::Uint8Array>();
  return a.ByteLength() == 4 || a.ByteLength() == 16;
}
