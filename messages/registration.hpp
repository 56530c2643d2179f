// A node's signed registration: who it is (its Ed25519 identity), on which
// chain, where it listens, and when it said so. A peer sends its own
// registration over a link (Envelope.register); the announcer relays
// registrations it accepts to every other link (Envelope.announce). Unlike
// bitmarkd, the registration is signed, so a relayed one proves its signer,
// and a registration sent over a link must name the link's authenticated key
// (the announcer checks that binding; this file only checks the record).
//
// Signing layout (the Ed25519 signature is over these bytes themselves;
// integers little-endian, keys raw):
//
//   "hm-reg01" (8) | chain length u32 | chain bytes | key (32)
//   | listener count u32 | per listener: length u32 | bytes
//   | timestamp u64
//
// Listener addresses are "host:port" (an IPv4 dotted quad or a DNS name) or
// "[v6]:port" (a bracketed IPv6 address without a zone), port 1..65535 in
// decimal. At most max_listeners of them, each at most max_listener_bytes.
//
// check_registration refuses, in this order (cheap and structural checks
// first, the signature last):
//   chain != ours ........................................ ec::wrong_chain
//   more than max_listeners listeners, or one that is longer than
//   max_listener_bytes or does not parse ................. ec::bad_record
//   timestamp > now + max_future_s ..................... ec::future_timestamp
//   timestamp + max_age_s < now .......................... ec::expired
//   signature not valid for the layout under `key` ....... ec::bad_signature
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "messages/codec.hpp"

namespace hallmark {

/// A node's signed registration (layout and rules above).
struct registration {
  std::string chain;
  public_key key{};
  std::vector<std::string> listeners;
  uint64_t timestamp = 0;
  signature sig{};
};

/// Lets CAF copy, compare and print a registration inside an actor message.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registration& x) {
  return f(x.chain, x.key, x.listeners, x.timestamp, x.sig);
}

/// Most listener addresses one registration may carry.
constexpr size_t max_listeners = 8;

/// Longest listener address text, in bytes.
constexpr size_t max_listener_bytes = 64;

/// Longest chain name a registration may carry, in bytes.
constexpr size_t max_registration_chain_bytes = 32;

/// Decoding limits for a stored or received Registration message.
constexpr read_limits registration_limits{4096};

/// The bytes a registration's signature covers (layout above).
std::vector<uint8_t> signing_bytes(const registration& r);

/// A registration of `identity` on `chain`, listening on `listeners`, made at
/// `timestamp` (unix seconds) and signed by `identity`.
registration make_registration(std::string chain,
                               std::vector<std::string> listeners,
                               uint64_t timestamp, const key_pair& identity);

/// Checks `r` against our chain and clock (unix seconds); see the header
/// comment for the order of the checks and their codes.
/// @param max_age_s oldest acceptable age of the timestamp.
/// @param max_future_s how far ahead of `now` a timestamp may be.
caf::error check_registration(const registration& r, std::string_view our_chain,
                              uint64_t now, uint64_t max_age_s,
                              uint64_t max_future_s);

/// Host and port of a listener address ("1.2.3.4:2136", "node.example:2136",
/// "[::1]:2136"); nothing if it is not one. An IPv6 host comes back without
/// its brackets.
std::optional<std::pair<std::string, uint16_t>>
parse_listener(std::string_view text);

/// A Registration as its own message (how the peer table stores it).
encoded encode_registration(const registration& r);

/// Decodes a message made by encode_registration, within `limits`; bytes
/// after the message are ec::malformed.
caf::expected<registration>
decode_registration(const encoded& e, read_limits limits = registration_limits);

} // namespace hallmark
