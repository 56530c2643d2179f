#include "messages/registration_capnp.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "core/error.hpp"
#include "messages/codec_capnp.hpp"

namespace hallmark {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// A decimal port 1..65535 (at most five digits, nothing else).
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5)
    return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (!is_digit(c))
      return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

bool is_ipv4(const std::string& host) {
  in_addr a;
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr a;
  return ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

/// A DNS name: dot-separated labels of 1..63 letters, digits and hyphens,
/// no label starting or ending with a hyphen, the last label not all digits.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253)
    return false;
  size_t start = 0;
  bool last_numeric = false;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    auto end = dot == std::string_view::npos ? host.size() : dot;
    auto label = host.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-'
        || label.back() == '-')
      return false;
    last_numeric = true;
    for (char c : label) {
      if (!is_alnum(c) && c != '-')
        return false;
      if (!is_digit(c))
        last_numeric = false;
    }
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  return !last_numeric;
}

std::string_view text_of(capnp::Text::Reader t) {
  return {t.cStr(), t.size()};
}

} // namespace

std::vector<uint8_t> signing_bytes(const registration& r) {
  size_t size = 8 + 4 + r.chain.size() + 32 + 4 + 8;
  for (auto& l : r.listeners)
    size += 4 + l.size();
  std::vector<uint8_t> out(size);
  auto p = out.data();
  auto put_bytes = [&](const void* data, size_t n) {
    if (n > 0)
      std::memcpy(p, data, n);
    p += n;
  };
  auto put_sized = [&](std::string_view text) {
    put_u32(p, static_cast<uint32_t>(text.size()));
    p += 4;
    put_bytes(text.data(), text.size());
  };
  put_bytes("hm-reg01", 8);
  put_sized(r.chain);
  put_bytes(r.key.data(), r.key.size());
  put_u32(p, static_cast<uint32_t>(r.listeners.size()));
  p += 4;
  for (auto& l : r.listeners)
    put_sized(l);
  put_u64(p, r.timestamp);
  return out;
}

registration make_registration(std::string chain,
                               std::vector<std::string> listeners,
                               uint64_t timestamp, const key_pair& identity) {
  registration r;
  r.chain = std::move(chain);
  r.key = identity.public_key_bytes();
  r.listeners = std::move(listeners);
  r.timestamp = timestamp;
  r.sig = identity.sign(signing_bytes(r));
  return r;
}

caf::error check_registration(const registration& r, std::string_view our_chain,
                              uint64_t now, uint64_t max_age_s,
                              uint64_t max_future_s) {
  if (r.chain != our_chain)
    return make_error(ec::wrong_chain,
                      "registration for chain '" + r.chain.substr(0, 32)
                        + "', ours is '" + std::string{our_chain} + "'");
  if (r.listeners.size() > max_listeners)
    return make_error(ec::bad_record,
                      "registration with " + std::to_string(r.listeners.size())
                        + " listeners, at most " + std::to_string(max_listeners)
                        + " allowed");
  for (auto& l : r.listeners) {
    if (l.size() > max_listener_bytes)
      return make_error(ec::bad_record,
                        "listener address of " + std::to_string(l.size())
                          + " bytes, at most "
                          + std::to_string(max_listener_bytes) + " allowed");
    if (!parse_listener(l))
      return make_error(ec::bad_record,
                        "listener '" + l + "' is not host:port or [v6]:port");
  }
  if (r.timestamp > now && r.timestamp - now > max_future_s)
    return make_error(ec::future_timestamp,
                      "registration timestamp " + std::to_string(r.timestamp)
                        + " is more than " + std::to_string(max_future_s)
                        + " s ahead of " + std::to_string(now));
  if (now > r.timestamp && now - r.timestamp > max_age_s)
    return make_error(ec::expired,
                      "registration timestamp " + std::to_string(r.timestamp)
                        + " is more than " + std::to_string(max_age_s)
                        + " s old at " + std::to_string(now));
  if (!verify(r.sig, signing_bytes(r), r.key))
    return make_error(ec::bad_signature, "registration of " + to_hex(r.key)
                                           + " is not signed by its key");
  return {};
}

std::optional<std::pair<std::string, uint16_t>>
parse_listener(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::string host;
  std::string_view port_text;
  if (text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos || close < 2)
      return std::nullopt;
    host.assign(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    if (!is_ipv6(host))
      return std::nullopt;
  } else {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0
        || text.find(':', colon + 1) != std::string_view::npos)
      return std::nullopt;
    host.assign(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    bool looks_numeric = std::all_of(
      host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
    if (looks_numeric ? !is_ipv4(host) : !is_dns_name(host))
      return std::nullopt;
  }
  auto port = parse_port(port_text);
  if (!port)
    return std::nullopt;
  return std::make_pair(std::move(host), *port);
}

void write(schema::Registration::Builder out, const registration& r) {
  out.setChain(capnp::Text::Reader{r.chain.data(), r.chain.size()});
  out.setKey(capnp::Data::Reader{r.key.data(), r.key.size()});
  auto ls = out.initListeners(static_cast<unsigned>(r.listeners.size()));
  for (unsigned i = 0; i < r.listeners.size(); ++i)
    ls.set(i,
           capnp::Text::Reader{r.listeners[i].data(), r.listeners[i].size()});
  out.setTimestamp(r.timestamp);
  out.setSignature(capnp::Data::Reader{r.sig.data(), r.sig.size()});
}

caf::expected<registration> read(schema::Registration::Reader in) {
  registration r;
  auto chain = text_of(in.getChain());
  if (chain.size() > max_registration_chain_bytes)
    return make_error(ec::too_large, "registration chain name of "
                                       + std::to_string(chain.size())
                                       + " bytes");
  r.chain.assign(chain);
  auto data = in.getKey();
  auto key = to_fixed<32>(byte_view{data.begin(), data.size()});
  if (!key)
    return make_error(ec::malformed, "registration key of "
                                       + std::to_string(data.size())
                                       + " bytes, not 32");
  r.key = *key;
  auto ls = in.getListeners();
  if (ls.size() > max_listeners)
    return make_error(ec::too_large, "registration with "
                                       + std::to_string(ls.size())
                                       + " listeners");
  for (auto l : ls) {
    auto text = text_of(l);
    if (text.size() > max_listener_bytes)
      return make_error(ec::too_large, "listener address of "
                                         + std::to_string(text.size())
                                         + " bytes");
    r.listeners.emplace_back(text);
  }
  r.timestamp = in.getTimestamp();
  auto sd = in.getSignature();
  auto sig = to_fixed<64>(byte_view{sd.begin(), sd.size()});
  if (!sig)
    return make_error(ec::malformed, "registration signature of "
                                       + std::to_string(sd.size())
                                       + " bytes, not 64");
  r.sig = *sig;
  return r;
}

encoded encode_registration(const registration& r) {
  capnp::MallocMessageBuilder builder;
  write(builder.initRoot<schema::Registration>(), r);
  return freeze(builder);
}

caf::expected<registration> decode_registration(const encoded& e,
                                                read_limits limits) {
  if (e.empty())
    return make_error(ec::malformed, "empty registration message");
  if (e.size() > limits.max_bytes)
    return make_error(ec::too_large, "registration message of "
                                       + std::to_string(e.size())
                                       + " bytes exceeds the limit of "
                                       + std::to_string(limits.max_bytes));
  return guarded([&]() -> caf::expected<registration> {
    auto words = words_of(e);
    capnp::FlatArrayMessageReader reader{words, reader_options(limits)};
    if (reader.getEnd() != words.end())
      return make_error(ec::malformed, "bytes after the registration message");
    return read(reader.getRoot<schema::Registration>());
  });
}

} // namespace hallmark
