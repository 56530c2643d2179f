// Typed tables: lmdb::table<K, V> knows its key and value types and stores
// them through a codec, declared once per type, so no caller counts bytes.
//
//   codec<T>    fixed size:    size (bytes), write(const T&, uint8_t*),
//                              read(const uint8_t*) -> T
//               variable size: size = variable_size, encode(const T&) -> a
//                              byte buffer or view, decode(bytes) ->
//                              caf::expected<T>
//   layout<&T::a, &T::b, …>   a fixed codec for a struct: its fields one
//                              after the other, each by its own codec
//
// Integers are little-endian; a 128-bit integer is its low then its high
// 64 bits; byte arrays are themselves; an enum is its underlying integer.
// Keys use the same codecs, except in integer_key tables, whose uint64_t
// keys are native-endian as MDB_INTEGERKEY wants.
//
// A stored value whose size is not its codec's, or that does not decode, is
// an ec::storage error naming the table ("table records: value of 12 bytes,
// expected 111"), never a read past the end.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "core/crypto.hpp"
#include "core/error.hpp"
#include "messages/codec.hpp"
#include "storage/lmdb.hpp"

namespace hallmark::lmdb {

/// codec<T>::size of a codec whose values differ in size.
constexpr size_t variable_size = std::numeric_limits<size_t>::max();

/// How a T is stored; specialised per type (see the top of this file).
template <class T, class = void>
struct codec;

/// Whether T's codec has one size for every value.
template <class T>
constexpr bool fixed_size = codec<T>::size != variable_size;

// -- codecs of plain types ----------------------------------------------------

/// Whether T is an unsigned integer, 128 bits included.
template <class T>
constexpr bool unsigned_integer = (std::is_integral_v<
                                     T> && std::is_unsigned_v<T>)
                                  || std::is_same_v<T, unsigned __int128>;

/// Little-endian: lowest byte first (a 128-bit integer is then its low
/// 64 bits, then its high 64 bits).
template <class T>
struct codec<T, std::enable_if_t<unsigned_integer<T>>> {
  static constexpr size_t size = sizeof(T);
  static void write(T x, uint8_t* out) {
    for (size_t i = 0; i < sizeof(T); ++i)
      out[i] = static_cast<uint8_t>(x >> (8 * i));
  }
  static T read(const uint8_t* in) {
    T x = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      x |= static_cast<T>(in[i]) << (8 * i);
    return x;
  }
};

template <size_t N>
struct codec<std::array<uint8_t, N>> {
  static constexpr size_t size = N;
  static void write(const std::array<uint8_t, N>& x, uint8_t* out) {
    std::memcpy(out, x.data(), N);
  }
  static std::array<uint8_t, N> read(const uint8_t* in) {
    std::array<uint8_t, N> x;
    std::memcpy(x.data(), in, N);
    return x;
  }
};

template <class E>
struct codec<E, std::enable_if_t<std::is_enum_v<E>>> {
  using base = codec<std::underlying_type_t<E>>;
  static constexpr size_t size = base::size;
  static void write(E x, uint8_t* out) {
    base::write(static_cast<std::underlying_type_t<E>>(x), out);
  }
  static E read(const uint8_t* in) { return static_cast<E>(base::read(in)); }
};

/// Text, without a terminator.
template <>
struct codec<std::string> {
  static constexpr size_t size = variable_size;
  static bytes encode(const std::string& x) {
    return {reinterpret_cast<const uint8_t*>(x.data()), x.size()};
  }
  static caf::expected<std::string> decode(bytes in) {
    return std::string{in.begin(), in.end()};
  }
};

/// A Cap'n Proto message as its flat bytes (whole words).
template <>
struct codec<encoded> {
  static constexpr size_t size = variable_size;
  static bytes encode(const encoded& x) { return x.bytes(); }
  static caf::expected<encoded> decode(bytes in) {
    return encoded::copy_of(in);
  }
};

// -- layouts ------------------------------------------------------------------

namespace detail {

template <class M>
struct member_traits;

template <class C, class T>
struct member_traits<T C::*> {
  using owner = C;
  using type = T;
};

template <auto M>
using owner_of = typename member_traits<decltype(M)>::owner;

template <auto M>
using field_of = typename member_traits<decltype(M)>::type;

} // namespace detail

/// The fixed codec of a struct stored as its fields `Ms...` (pointers to
/// members), in order, with nothing between them.
template <auto First, auto... Ms>
struct layout {
  using type = detail::owner_of<First>;
  static_assert((std::is_same_v<type, detail::owner_of<Ms>> && ...),
                "a layout's fields belong to one type");
  static_assert(
    fixed_size<
      detail::field_of<First>> && (fixed_size<detail::field_of<Ms>> && ...),
    "a layout's fields have fixed sizes");

  static constexpr size_t size = codec<detail::field_of<First>>::size
                                 + (codec<detail::field_of<Ms>>::size + ...
                                    + 0);

  static void write(const type& x, uint8_t* out) {
    put<First>(x, out);
    (put<Ms>(x, out), ...);
  }

  static type read(const uint8_t* in) {
    type x{};
    take<First>(x, in);
    (take<Ms>(x, in), ...);
    return x;
  }

private:
  template <auto M>
  static void put(const type& x, uint8_t*& out) {
    codec<detail::field_of<M>>::write(x.*M, out);
    out += codec<detail::field_of<M>>::size;
  }

  template <auto M>
  static void take(type& x, const uint8_t*& in) {
    x.*M = codec<detail::field_of<M>>::read(in);
    in += codec<detail::field_of<M>>::size;
  }
};

// -- encoding and decoding ----------------------------------------------------

/// `x` in its stored form: a byte array (fixed codecs) or what the codec's
/// encode returns; bytes{…} of it views it.
template <class T>
auto encode_value(const T& x) {
  if constexpr (fixed_size<T>) {
    std::array<uint8_t, codec<T>::size> out;
    codec<T>::write(x, out.data());
    return out;
  } else {
    return codec<T>::encode(x);
  }
}

/// Decodes stored bytes `in` as a T; `where` names the table (and key) and
/// `what` the part ("value", "key") in the error.
template <class T>
caf::expected<T> decode_value(bytes in, std::string_view where,
                              const char* what = "value") {
  if constexpr (fixed_size<T>) {
    if (in.size() != codec<T>::size)
      return make_error(ec::storage, "table " + std::string{where} + ": " + what
                                       + " of " + std::to_string(in.size())
                                       + " bytes, expected "
                                       + std::to_string(codec<T>::size));
    return codec<T>::read(in.data());
  } else {
    auto x = codec<T>::decode(in);
    if (!x)
      return make_error(ec::storage,
                        "table " + std::string{where} + ": " + what
                          + " does not decode: " + message_of(x.error()));
    return x;
  }
}

/// A view of an encoded key or value buffer.
template <class Buffer>
bytes view_of(const Buffer& b) {
  return {b.data(), b.size()};
}

// -- tables -------------------------------------------------------------------

/// A named table from K to V. Kind integer_key wants K = uint64_t; kind
/// dup_fixed holds a sorted set of fixed-size V per key.
template <class K, class V, table_kind Kind = table_kind::plain>
class table {
  static_assert(Kind != table_kind::integer_key || std::is_same_v<K, uint64_t>,
                "integer_key tables have uint64_t keys");
  static_assert(Kind != table_kind::dup_fixed || fixed_size<V>,
                "dup_fixed tables have fixed-size values");

public:
  using key_type = K;
  using value_type = V;

  table() = default;

  /// Opens or creates table `name` (a string literal) inside `t`.
  static caf::expected<table> open(write_txn& t, const char* name) {
    auto r = raw_table::open(t, name, Kind);
    if (!r)
      return r.error();
    table out;
    out.raw_ = *r;
    return out;
  }

  /// The value under `key`, or none; ec::storage if it does not decode.
  caf::expected<std::optional<V>> get(const txn& t, const K& key) const {
    auto k = encode_key(key);
    auto v = raw_.get(t, view_of(k));
    if (!v)
      return v.error();
    if (!*v)
      return std::optional<V>{};
    auto x = decode_value<V>(**v, raw_.name());
    if (!x)
      return x.error();
    return std::optional<V>{std::move(*x)};
  }

  /// Puts `value` under `key`, replacing it (dup_fixed: adding it).
  caf::error put(write_txn& t, const K& key, const V& value) const {
    auto k = encode_key(key);
    auto v = encode_value(value);
    return raw_.put(t, view_of(k), view_of(v));
  }

  /// Puts after the last key; an integer_key table's fast path for
  /// ascending keys. Refused (ec::storage) below the last key.
  caf::error append(write_txn& t, const K& key, const V& value) const
    requires(Kind == table_kind::integer_key) {
    auto k = encode_key(key);
    auto v = encode_value(value);
    return raw_.append(t, view_of(k), view_of(v));
  }

  /// Deletes `key` (every value of it); false if it was absent.
  caf::expected<bool> del(write_txn& t, const K& key) const {
    auto k = encode_key(key);
    return raw_.del(t, view_of(k));
  }

  /// Deletes one value of `key`; false if it was absent.
  caf::expected<bool> del(write_txn& t, const K& key, const V& value) const
    requires(Kind == table_kind::dup_fixed) {
    auto k = encode_key(key);
    auto v = encode_value(value);
    return raw_.del(t, view_of(k), view_of(v));
  }

  /// Calls `f(value)` for each value of `key` in order until it returns
  /// false; stops with ec::storage at a value of the wrong size.
  template <class F>
  caf::error for_each(const txn& t, const K& key, F&& f) const
    requires(Kind == table_kind::dup_fixed) {
    auto k = encode_key(key);
    caf::error bad;
    auto err = raw_.for_each_dup(t, view_of(k), [&](bytes v) {
      auto x = decode_value<V>(v, raw_.name());
      if (!x) {
        bad = x.error();
        return false;
      }
      return f(*x);
    });
    return err ? err : bad;
  }

  /// Calls `f(key, value)` for every entry in key order until it returns
  /// false. `value` is a caf::expected<V>: a value that does not decode comes
  /// as its error, so the caller may skip or delete that row. A key that
  /// does not decode stops the scan with ec::storage.
  template <class F>
  caf::error for_each(const txn& t, F&& f) const {
    caf::error bad;
    auto err = raw_.scan(t, [&](bytes k, bytes v) {
      auto key = decode_key(k);
      if (!key) {
        bad = key.error();
        return false;
      }
      return f(*key, decode_value<V>(v, raw_.name()));
    });
    return err ? err : bad;
  }

  /// Number of entries.
  caf::expected<uint64_t> count(const txn& t) const { return raw_.count(t); }

  /// The bytes underneath, for tools and tests that compare stored bytes.
  const raw_table& raw() const { return raw_; }

private:
  static auto encode_key(const K& key) {
    if constexpr (Kind == table_kind::integer_key) {
      std::array<uint8_t, sizeof(uint64_t)> out;
      std::memcpy(out.data(), &key, sizeof key);
      return out;
    } else {
      return encode_value(key);
    }
  }

  caf::expected<K> decode_key(bytes k) const {
    if constexpr (Kind == table_kind::integer_key) {
      if (k.size() != sizeof(uint64_t))
        return make_error(ec::storage, "table " + std::string{raw_.name()}
                                         + ": integer key of "
                                         + std::to_string(k.size()) + " bytes");
      uint64_t key;
      std::memcpy(&key, k.data(), sizeof key);
      return key;
    } else {
      return decode_value<K>(k, raw_.name(), "key");
    }
  }

  raw_table raw_;
};

// -- the meta table -----------------------------------------------------------

/// A key of a `meta` table, with the type of the value stored under it.
template <class V>
struct meta_key {
  const char* name;
};

/// Every environment's schema version, under "schema".
constexpr meta_key<uint32_t> schema_key{"schema"};

/// The `meta` table: a few named values of different types.
class meta_table {
public:
  meta_table() = default;

  /// Opens or creates the table "meta" inside `t`.
  static caf::expected<meta_table> open(write_txn& t) {
    auto r = raw_table::open(t, "meta", table_kind::plain);
    if (!r)
      return r.error();
    meta_table out;
    out.raw_ = *r;
    return out;
  }

  /// The value under `key`, or none; ec::storage if it does not decode.
  template <class V>
  caf::expected<std::optional<V>> get(const txn& t, meta_key<V> key) const {
    auto v = raw_.get(t, name_of(key));
    if (!v)
      return v.error();
    if (!*v)
      return std::optional<V>{};
    auto x = decode_value<V>(**v, std::string{"meta \""} + key.name + "\"");
    if (!x)
      return x.error();
    return std::optional<V>{std::move(*x)};
  }

  /// Puts `value` under `key`.
  template <class V>
  caf::error put(write_txn& t, meta_key<V> key, const V& value) const {
    auto v = encode_value(value);
    return raw_.put(t, name_of(key), view_of(v));
  }

  /// Whether the table has no entry at all (a new environment).
  caf::expected<bool> empty(const txn& t) const {
    auto n = raw_.count(t);
    if (!n)
      return n.error();
    return *n == 0;
  }

  /// The bytes underneath, for tools and tests that compare stored bytes.
  const raw_table& raw() const { return raw_; }

private:
  template <class V>
  static bytes name_of(meta_key<V> key) {
    return {reinterpret_cast<const uint8_t*>(key.name),
            std::char_traits<char>::length(key.name)};
  }

  raw_table raw_;
};

} // namespace hallmark::lmdb
