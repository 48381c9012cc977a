{
  "targets": [
    {
      "target_name": "tcp_shaker_native",
      "sources": ["native/addon.cc", "native/connect.cc", "native/capture.cc", "native/sender.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "libraries": ["-lpcap", "-lpthread"],
      "conditions": [["OS!='linux'", {"sources!": ["native/addon.cc", "native/connect.cc", "native/capture.cc", "native/sender.cc"]}]]
    }
  ]
}
