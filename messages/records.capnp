@0xc4a1d0a8e7b3f201;
# Property records. Each record's id is BLAKE2b-256 over its signed bytes and
# signatures in the fixed layout of docs/formats.md, never over these Cap'n
# Proto bytes, so that ids stay identical whatever encoder wrote the message.
# Field numbers only grow.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("hallmark::schema");

struct MetaEntry {
  key @0 :Text;
  value @1 :Text;
}

# A work's registration. Asset id = BLAKE2b-256(fingerprint).
struct Asset {
  name @0 :Text;            # 1..64 bytes of UTF-8
  fingerprint @1 :Data;     # 1..1024 bytes
  metadata @2 :List(MetaEntry);  # encoded size (key\0value\0...) <= 2048
  registrant @3 :Data;      # Ed25519 public key, 32 bytes
  signature @4 :Data;       # registrant's signature, 64 bytes
}

# One ownable item of an asset, signed by its first owner, who must be the
# asset's registrant.
struct Issue {
  assetId @0 :Data;         # 32 bytes
  owner @1 :Data;           # 32 bytes
  nonce @2 :UInt64;         # tells items of one asset apart
  signature @3 :Data;       # owner's signature, 64 bytes
}

# Up to 100 issues carried by one free-issue proof of work. The proof hashes
# the batch's payment id (BLAKE2b over the issue ids) with the hash of a
# recent block (the anchor), so it cannot be computed in advance.
struct IssueBatch {
  issues @0 :List(Issue);
  anchor @1 :Data;          # hash of a block at most anchorWindow blocks back
  workNonce @2 :UInt64;
}

# Moves an item to a new owner. `link` is the item's latest record id.
# `owner` names the signer (the current owner) so every signature in a block
# checks without reading state; applying the transfer checks it owns `link`.
struct Transfer {
  link @0 :Data;            # 32 bytes
  owner @1 :Data;           # current owner, 32 bytes
  newOwner @2 :Data;        # 32 bytes
  signature @3 :Data;       # current owner's signature, 64 bytes
  countersignature @4 :Data;  # empty, or the new owner's signature, 64 bytes
}

struct Record {
  union {
    asset @0 :Asset;
    issues @1 :IssueBatch;
    transfer @2 :Transfer;
  }
}

# Records submitted together (CLI, or a peer's broadcast).
struct RecordList {
  records @0 :List(Record);
}
