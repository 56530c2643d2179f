#include "actors/dialer.hpp"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace hallmark {

bool is_address(std::string_view host) {
  std::string text{host};
  in6_addr v6;
  in_addr v4;
  return ::inet_pton(AF_INET, text.c_str(), &v4) == 1
         || ::inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

caf::expected<int> start_connect(const std::string& address, uint16_t port) {
  sockaddr_storage to{};
  socklen_t length = 0;
  auto v4 = reinterpret_cast<sockaddr_in*>(&to);
  auto v6 = reinterpret_cast<sockaddr_in6*>(&to);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  } else {
    return make_error(ec::io, "'" + address + "' is not an IP address");
  }
  int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
  if (fd < 0)
    return make_error(ec::io, std::string{"cannot make a socket: "}
                                + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), length) != 0
      && errno != EINPROGRESS) {
    auto err = make_error(ec::io, "cannot connect to " + address + ": "
                                    + std::strerror(errno));
    ::close(fd);
    return err;
  }
  return fd;
}

resolver_actor::behavior_type resolver(resolver_actor::pointer self) {
  return {
    [=](atom::resolve,
        const std::string& host) -> caf::result<std::vector<std::string>> {
      self->quit();
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
          rc != 0)
        return make_error(ec::io,
                          "cannot resolve " + host + ": " + ::gai_strerror(rc));
      std::vector<std::string> v4s;
      std::vector<std::string> v6s;
      for (auto ai = found; ai != nullptr; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        if (ai->ai_family == AF_INET) {
          auto in = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
          ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
          v4s.emplace_back(text);
        } else if (ai->ai_family == AF_INET6) {
          auto in = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
          ::inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof(text));
          v6s.emplace_back(text);
        }
      }
      ::freeaddrinfo(found);
      v4s.insert(v4s.end(), v6s.begin(), v6s.end());
      if (v4s.empty())
        return make_error(ec::io, "no address for " + host);
      return v4s;
    },
  };
}

} // namespace hallmark
