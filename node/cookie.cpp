#include "node/cookie.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <sodium.h>

#include "core/crypto.hpp"
#include "core/error.hpp"

namespace hallmark {

namespace {

constexpr size_t token_hex_size = 64;

caf::expected<std::string> read_cookie(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ec::io, "cannot open the HTTP cookie " + path + ": "
                                + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error(ec::io, "the HTTP cookie " + path
                                + " must not be readable by others (chmod "
                                  "600)");
  }
  char buf[token_hex_size + 2];
  auto n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  std::string text{buf, n > 0 ? static_cast<size_t>(n) : 0};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  if (text.size() != token_hex_size || !from_hex_fixed<32>(text))
    return make_error(ec::io, "the HTTP cookie " + path
                                + " does not hold a token (64 hex digits); "
                                  "delete it and restart the node");
  return text;
}

} // namespace

caf::expected<std::string> ensure_cookie(const std::string& path) {
  std::array<uint8_t, 32> raw{};
  randombytes_buf(raw.data(), raw.size());
  auto text = to_hex(raw) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return read_cookie(path);
    return make_error(ec::io, "cannot create the HTTP cookie " + path + ": "
                                + std::strerror(errno));
  }
  auto ok = ::write(fd, text.data(), text.size())
            == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return make_error(ec::io, "cannot write the HTTP cookie " + path);
  }
  text.pop_back();
  return text;
}

bool http_token_required(std::string_view http_auth, const std::string& host) {
  if (http_auth == "always")
    return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) != 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return !IN6_IS_ADDR_LOOPBACK(&v6);
  return host != "localhost";
}

bool token_matches(std::string_view given, std::string_view token) {
  return given.size() == token.size()
         && sodium_memcmp(given.data(), token.data(), token.size()) == 0;
}

} // namespace hallmark
