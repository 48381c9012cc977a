{
  "targets": [
    {
      "target_name": "tcp_shaker_native",
      "sources": ["native/raw_socket.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"sources!": ["native/raw_socket.cc"]}]]
    }
  ]
}
