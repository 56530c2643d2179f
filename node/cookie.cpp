#include "node/cookie.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <filesystem>

#include <sodium.h>

#include "core/crypto.hpp"
#include "core/error.hpp"
#include "core/keys.hpp"

namespace hallmark {

namespace {

/// The cookie's text: 64 hex digits and a newline.
constexpr size_t cookie_size = 65;

} // namespace

caf::expected<std::string> ensure_cookie(const std::string& path) {
  std::error_code fe;
  if (!std::filesystem::exists(path, fe)) {
    std::array<uint8_t, 32> raw{};
    randombytes_buf(raw.data(), raw.size());
    auto err = write_private_file(path, to_hex(raw) + "\n", "HTTP cookie");
    // Another process may have made it meanwhile: then it is read below.
    if (err && !std::filesystem::exists(path, fe))
      return err;
  }
  // One byte more than a cookie holds: a longer file is refused.
  auto text = read_private_file(path, cookie_size + 1, "HTTP cookie");
  if (!text)
    return text.error();
  if (text->size() != 2 * 32 || !from_hex_fixed<32>(*text))
    return make_error(ec::io, "HTTP cookie " + path
                                + " does not hold a token (64 hex digits); "
                                  "delete it and restart the node");
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
