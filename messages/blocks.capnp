@0xd7f3b9215c0e6a42;
# Blocks. The block hash is BLAKE2b-256 over the header's fixed 162-byte
# layout (docs/formats.md), not over these bytes. Field numbers only grow.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("hallmark::schema");

using Records = import "records.capnp";

struct Header {
  version @0 :UInt16;
  height @1 :UInt64;
  previous @2 :Data;        # 32 bytes; all zero for genesis
  merkleRoot @3 :Data;      # 32 bytes, over the records' ids
  stateRoot @4 :Data;       # 32 bytes, all zero until state sync defines it
  timestamp @5 :UInt64;     # seconds since the Unix epoch
  difficulty @6 :UInt64;    # expected hashes for a block of this work
  producer @7 :Data;        # producer's Ed25519 public key, 32 bytes
  nonce @8 :UInt64;
}

struct Block {
  header @0 :Header;
  records @1 :List(Records.Record);
}
