#include "core/records.hpp"

#include <cstring>

namespace hallmark {

namespace {

template <size_t N>
void put(uint8_t*& out, const std::array<uint8_t, N>& x) {
  std::memcpy(out, x.data(), N);
  out += N;
}

void put_tag(uint8_t*& out, const char (&tag)[9]) {
  std::memcpy(out, tag, 8);
  out += 8;
}

void append_sized(std::vector<uint8_t>& out, const void* data, size_t size) {
  uint8_t len[4];
  put_u32(len, static_cast<uint32_t>(size));
  out.insert(out.end(), len, len + 4);
  auto p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

size_t metadata_size(const std::vector<meta_entry>& metadata) {
  size_t total = 0;
  for (auto& m : metadata)
    total += m.key.size() + 1 + m.value.size() + 1;
  return total;
}

bool is_zero(const std::array<uint8_t, 32>& x) {
  for (auto b : x)
    if (b != 0)
      return false;
  return true;
}

} // namespace

const char* kind_name(const record& r) {
  switch (r.index()) {
  case 0:
    return "asset";
  case 1:
    return "issues";
  default:
    return "transfer";
  }
}

size_t record_count(const record& r) {
  if (auto b = std::get_if<issue_batch>(&r))
    return b->issues.size();
  return 1;
}

hash256 asset_id(const asset& a) {
  return blake2b(a.fingerprint);
}

std::vector<uint8_t> signing_bytes(const asset& a) {
  std::vector<uint8_t> out;
  out.reserve(8 + 4 + a.name.size() + 4 + a.fingerprint.size() + 4
              + metadata_size(a.metadata) + 8 * a.metadata.size() + 32);
  out.insert(out.end(), "hm-asset", "hm-asset" + 8);
  append_sized(out, a.name.data(), a.name.size());
  append_sized(out, a.fingerprint.data(), a.fingerprint.size());
  uint8_t count[4];
  put_u32(count, static_cast<uint32_t>(a.metadata.size()));
  out.insert(out.end(), count, count + 4);
  for (auto& m : a.metadata) {
    append_sized(out, m.key.data(), m.key.size());
    append_sized(out, m.value.data(), m.value.size());
  }
  out.insert(out.end(), a.registrant.begin(), a.registrant.end());
  return out;
}

std::array<uint8_t, 80> signing_bytes(const issue& i) {
  std::array<uint8_t, 80> out;
  auto p = out.data();
  put_tag(p, "hm-issue");
  put(p, i.asset_id);
  put(p, i.owner);
  put_u64(p, i.nonce);
  return out;
}

std::array<uint8_t, 104> signing_bytes(const transfer& t) {
  std::array<uint8_t, 104> out;
  auto p = out.data();
  put_tag(p, "hm-xfer1");
  put(p, t.link);
  put(p, t.owner);
  put(p, t.new_owner);
  return out;
}

std::array<uint8_t, 176> countersigning_bytes(const transfer& t) {
  std::array<uint8_t, 176> out;
  auto p = out.data();
  put_tag(p, "hm-csign");
  put(p, signing_bytes(t));
  put(p, t.sig);
  return out;
}

hash256 record_id(const asset& a) {
  return hasher{}.add(signing_bytes(a)).add(a.sig).finish();
}

hash256 record_id(const issue& i) {
  return hasher{}.add(signing_bytes(i)).add(i.sig).finish();
}

hash256 record_id(const transfer& t) {
  hasher h;
  h.add(signing_bytes(t)).add(t.sig);
  if (t.countersig)
    h.add_u8(1).add(*t.countersig);
  else
    h.add_u8(0);
  return h.finish();
}

hash256 payment_id(const issue_batch& b) {
  hasher h;
  h.add(byte_view{reinterpret_cast<const uint8_t*>("hm-payid"), 8});
  for (auto& i : b.issues)
    h.add(record_id(i));
  return h.finish();
}

hash256 record_id(const issue_batch& b) {
  return hasher{}
    .add(byte_view{reinterpret_cast<const uint8_t*>("hm-batch"), 8})
    .add(payment_id(b))
    .add(b.anchor)
    .add_u64(b.work_nonce)
    .finish();
}

hash256 leaf_id(const record& r) {
  return std::visit([](const auto& x) { return record_id(x); }, r);
}

uint64_t batch_difficulty(uint64_t base, size_t count) {
  // Percentages keep the arithmetic exact and identical on every node.
  uint64_t percent = count <= 1    ? 100
                     : count <= 10 ? 95
                     : count <= 50 ? 90
                                   : 85;
  auto total = static_cast<unsigned __int128>(base) * count * percent / 100;
  if (total < 1)
    return 1;
  if (total > UINT64_MAX)
    return UINT64_MAX;
  return static_cast<uint64_t>(total);
}

hash256 work_hash(const hash256& payment, const hash256& anchor,
                  uint64_t nonce) {
  return hasher{}.add(payment).add(anchor).add_u64(nonce).finish();
}

bool meets_difficulty(const hash256& h, uint64_t difficulty) {
  if (difficulty <= 1)
    return true;
  uint64_t top = 0;
  for (int i = 0; i < 8; ++i)
    top = top << 8 | h[i];
  return top <= UINT64_MAX / difficulty;
}

bool solve_batch(issue_batch& b, uint64_t difficulty, uint64_t max_tries) {
  auto payment = payment_id(b);
  for (uint64_t i = 0; i < max_tries; ++i, ++b.work_nonce)
    if (meets_difficulty(work_hash(payment, b.anchor, b.work_nonce),
                         difficulty))
      return true;
  return false;
}

caf::error check_fields(const record& r) {
  if (auto a = std::get_if<asset>(&r)) {
    if (a->name.empty() || a->name.size() > max_asset_name)
      return make_error(ec::bad_record, "asset name must have 1 to 64 bytes");
    if (a->fingerprint.empty() || a->fingerprint.size() > max_fingerprint)
      return make_error(ec::bad_record,
                        "asset fingerprint must have 1 to 1024 bytes");
    if (metadata_size(a->metadata) > max_metadata)
      return make_error(ec::bad_record,
                        "asset metadata exceeds 2048 encoded bytes");
    for (auto& m : a->metadata)
      if (m.key.empty() || m.key.find('\0') != std::string::npos
          || m.value.find('\0') != std::string::npos)
        return make_error(ec::bad_record,
                          "metadata keys must be non-empty, without NUL");
    return {};
  }
  if (auto b = std::get_if<issue_batch>(&r)) {
    if (b->issues.empty() || b->issues.size() > max_batch_issues)
      return make_error(ec::bad_record, "an issue batch holds 1 to 100 issues");
    for (size_t i = 0; i < b->issues.size(); ++i)
      for (size_t j = i + 1; j < b->issues.size(); ++j)
        if (b->issues[i].asset_id == b->issues[j].asset_id
            && b->issues[i].owner == b->issues[j].owner
            && b->issues[i].nonce == b->issues[j].nonce)
          return make_error(ec::duplicate, "an issue appears twice in a batch");
    return {};
  }
  auto& t = std::get<transfer>(r);
  if (t.link == record_id(t))
    return make_error(ec::self_link, "a transfer cannot link to itself");
  if (is_zero(t.link))
    return make_error(ec::bad_record, "a transfer needs a link");
  return {};
}

caf::error check_signatures(const record& r) {
  if (auto a = std::get_if<asset>(&r)) {
    if (!verify(a->sig, signing_bytes(*a), a->registrant))
      return make_error(ec::bad_signature, "asset signature does not verify");
    return {};
  }
  if (auto b = std::get_if<issue_batch>(&r)) {
    for (auto& i : b->issues)
      if (!verify(i.sig, signing_bytes(i), i.owner))
        return make_error(ec::bad_signature, "issue signature does not verify");
    return {};
  }
  auto& t = std::get<transfer>(r);
  if (!verify(t.sig, signing_bytes(t), t.owner))
    return make_error(ec::bad_signature, "transfer signature does not verify");
  if (t.countersig
      && !verify(*t.countersig, countersigning_bytes(t), t.new_owner))
    return make_error(ec::bad_signature,
                      "transfer countersignature does not verify");
  return {};
}

asset make_asset(std::string name, std::vector<uint8_t> fingerprint,
                 std::vector<meta_entry> metadata, const key_pair& registrant) {
  asset a;
  a.name = std::move(name);
  a.fingerprint = std::move(fingerprint);
  a.metadata = std::move(metadata);
  a.registrant = registrant.public_key_bytes();
  a.sig = registrant.sign(signing_bytes(a));
  return a;
}

issue make_issue(const hash256& asset, uint64_t nonce, const key_pair& owner) {
  issue i;
  i.asset_id = asset;
  i.owner = owner.public_key_bytes();
  i.nonce = nonce;
  i.sig = owner.sign(signing_bytes(i));
  return i;
}

transfer make_transfer(const hash256& link, const public_key& new_owner,
                       const key_pair& owner) {
  transfer t;
  t.link = link;
  t.owner = owner.public_key_bytes();
  t.new_owner = new_owner;
  t.sig = owner.sign(signing_bytes(t));
  return t;
}

void countersign(transfer& t, const key_pair& new_owner) {
  t.countersig = new_owner.sign(countersigning_bytes(t));
}

} // namespace hallmark
