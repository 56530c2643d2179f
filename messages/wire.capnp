@0xa6c3f1e8d2b47095;
# The peer protocol. A link starts with three plaintext handshake frames
# (Hello, Welcome, Proof) or a Reject; every later frame is one
# secretstream-encrypted Envelope. Each frame is a 4-byte little-endian
# length and that many bytes: at most 4 KiB during the handshake, at most
# 5 MB after. docs/protocol.md has the diagrams. Field numbers only grow.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("hallmark::schema");

using Records = import "records.capnp";

const magic :UInt64 = 0x4b52414d4c4c4148;  # "HALLMARK", little-endian

# Initiator -> responder.
struct Hello {
  magic @0 :UInt64;
  minVersion @1 :UInt16;
  maxVersion @2 :UInt16;
  chain @3 :Text;
  key @4 :Data;              # initiator's Ed25519 identity, 32 bytes
  ephemeral @5 :Data;        # initiator's X25519 ephemeral key, 32 bytes
  responderKey @6 :Data;     # the identity the initiator expects, 32 bytes
}

# Responder -> initiator.
struct Welcome {
  version @0 :UInt16;        # chosen from the initiator's range
  key @1 :Data;              # responder's Ed25519 identity
  ephemeral @2 :Data;        # responder's X25519 ephemeral key
  streamHeader @3 :Data;     # responder's secretstream header (24 bytes)
  signature @4 :Data;        # responder's signature of transcript T1
}

# Initiator -> responder.
struct Proof {
  streamHeader @0 :Data;     # initiator's secretstream header
  signature @1 :Data;        # initiator's signature of transcript T2
}

# Either side, instead of the next handshake frame: why the link ends.
struct Reject {
  code @0 :UInt8;            # an `ec` value
  reason @1 :Text;
}

struct Handshake {
  union {
    hello @0 :Hello;
    welcome @1 :Welcome;
    proof @2 :Proof;
    reject @3 :Reject;
  }
}

# A signed registration: who a node is and where it listens.
struct Registration {
  chain @0 :Text;
  key @1 :Data;              # Ed25519 identity, 32 bytes
  listeners @2 :List(Text);  # "host:port" or "[v6]:port", at most 8
  timestamp @3 :UInt64;      # seconds since the Unix epoch
  signature @4 :Data;        # by `key`, over the layout in docs/protocol.md
}

struct Info {
  chain @0 :Text;
  version @1 :Text;
  height @2 :UInt64;
  tip @3 :Data;
  work @4 :Text;             # cumulative work, decimal
  # Blocks are served from base + 1 on: a state sync began this peer's
  # chain at base (headers and hashes are served from genesis). 0: every
  # block.
  base @5 :UInt64;
}

struct HeightRange {
  from @0 :UInt64;
  count @1 :UInt32;
}

# State sync (docs/state.md). Keys are 33 bytes; a missing start or end is
# the first or last key.
struct StateRangeRequest {
  root @0 :Data;             # the state root to prove against, 32 bytes
  start @1 :Data;
  end @2 :Data;
  keyLimit @3 :UInt32;       # at most 2048
  byteLimit @4 :UInt32;      # at most 2 MiB
}

struct StateChangeRequest {
  fromRoot @0 :Data;         # the root the client's range is at
  toRoot @1 :Data;           # the root to bring it to
  start @2 :Data;
  end @3 :Data;
  keyLimit @4 :UInt32;
  byteLimit @5 :UInt32;
}

struct ProofNode {
  path @0 :Data;             # nibbles packed two a byte, high first
  pathLength @1 :UInt8;      # in nibbles, at most 66 (66: a leaf)
  valueHash @2 :Data;        # a leaf's, 32 bytes; empty for a branch
  childMask @3 :UInt16;      # a branch's children, bit i = child i
  childIds @4 :Data;         # their ids, 32 bytes each, in order
}

struct StateProof {
  # The key/values, packed (a list of structs would cost more than the
  # values themselves): per entry its key (33 bytes), its value's length
  # (1 byte, 1..255; 0 = the key is deleted, in a change proof only), then
  # the value. Strictly increasing keys, at most 2048.
  entries @0 :Data;
  proof @1 :List(ProofNode);
  truncated @2 :Bool;        # proves only up to the last entry
}

struct StateChange {
  union {
    changes @0 :StateProof;  # a change proof
    range @1 :StateProof;    # a range proof at toRoot: history was gone
  }
}

# Every encrypted frame. A request carries a non-zero id that its response
# repeats; broadcasts carry id 0 and get no response.
struct Envelope {
  id @0 :UInt64;
  union {
    infoRequest @1 :Void;
    info @2 :Info;
    blocksRequest @3 :HeightRange;   # answered with `blocks`, count and byte capped
    blocks @4 :List(Data);     # encoded Blocks, ascending heights
    hashesRequest @5 :HeightRange;
    hashes @6 :List(Data);
    register @7 :Registration; # answered with `peers` (one random other)
    peers @8 :List(Registration);
    announce @9 :Registration; # relayed registration (broadcast)
    records @10 :Records.RecordList;  # broadcast
    block @11 :Data;           # broadcast of a new block
    error @12 :Reject;         # a request's refusal
    ping @13 :Void;
    pong @14 :Void;
    stateRangeRequest @15 :StateRangeRequest;  # answered with stateRange
    stateRange @16 :StateProof;
    stateChangeRequest @17 :StateChangeRequest;  # answered with stateChange
    stateChange @18 :StateChange;
    headersRequest @19 :HeightRange;  # answered with `headers`, count capped
    headers @20 :List(Data);   # 162-byte headers, ascending heights
  }
}
