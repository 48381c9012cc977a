// The sockaddr for a 4- or 16-byte address, shared by the files that hand addresses to the kernel.
#pragma once

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

// Port in host order (0 for raw sockets, which take the port from the packet itself).
inline socklen_t FillSockaddr(const uint8_t* addr, size_t len, uint16_t port, sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (len == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  memcpy(&sin6->sin6_addr, addr, 16);
  return sizeof(sockaddr_in6);
}
