@0xe91b47c2a6d85f13;
# The local control protocol between `hallmark` commands and a running node,
# over the Unix socket DATADIR/admin.sock. Each message is a frame: a 4-byte
# little-endian length, then a flat-array Cap'n Proto message of that many
# bytes (at most 16 MiB). One Reply answers each Request, in order.
# Field numbers only grow.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("hallmark::schema");

using Records = import "records.capnp";
using Blocks = import "blocks.capnp";

struct Request {
  union {
    status @0 :Void;
    submit @1 :Records.RecordList;    # records signed by the client
    item @2 :Data;                    # item id -> owner and provenance
    owner @3 :Data;                   # public key -> items
    blockByHeight @4 :UInt64;
    blockByHash @5 :Data;
    record @6 :Data;                  # record id -> record and location
    reorg @7 :UInt32;                 # unwind this many blocks, re-apply them
    importBlocks @8 :List(Data);      # encoded Blocks, as a peer sends them
    exportBlocks @9 :Range;           # encoded Blocks by height
    stop @10 :Void;
    peers @11 :Void;                  # every known peer and its link
    watch @12 :Void;                  # a Reply.tip for every new tip, until
                                      # the client closes the connection
    ban @13 :Ban;                     # -> peers, after the ban
    unban @14 :Data;                  # a peer's key -> peers, after
    stateProof @15 :Data;             # an item id -> stateProof at the tip
    asset @16 :Data;                  # an asset id -> record: its
                                      # registration, on chain or pending
  }
}

struct Ban {
  key @0 :Data;                       # the peer's identity key
  seconds @1 :UInt64;                 # 0: the node's ban_seconds
}

struct Range {
  from @0 :UInt64;
  count @1 :UInt32;
}

struct Reply {
  union {
    error @0 :Error;
    status @1 :Status;
    submitted @2 :List(Data);         # record ids, in submission order
    item @3 :Item;
    owner @4 :Owner;
    block @5 :BlockInfo;
    record @6 :RecordInfo;
    tip @7 :Tip;                      # after reorg or importBlocks
    blocks @8 :List(Data);            # after exportBlocks
    stopping @9 :Void;
    peers @10 :List(PeerInfo);
    end @11 :Void;                    # the node stops: no more tips
    stateProof @12 :StateProofInfo;
  }
}

# A membership (or absence) proof of one state key against a header's
# state root (docs/state.md).
struct StateProofInfo {
  header @0 :Data;                    # the tip's header, 162 bytes
  proof @1 :Data;                     # an encoded peer-protocol Envelope
                                      # holding a stateRange of [key, key]
}

struct PeerInfo {
  key @0 :Data;
  addresses @1 :List(Text);
  isStatic @2 :Bool;
  inbound @3 :Bool;
  link @4 :Text;                      # "up", "connecting", "down", "banned"
  height @5 :UInt64;
  tip @6 :Data;
  lastSeen @7 :UInt64;                # unix seconds; 0 never
  score @8 :Int64;
  bannedUntil @9 :UInt64;             # unix seconds; 0 not banned
}

struct Error {
  code @0 :UInt8;                     # pinned `ec` values, docs/cli.md
  message @1 :Text;
}

struct Tip {
  height @0 :UInt64;
  hash @1 :Data;
}

struct Status {
  chain @0 :Text;
  height @1 :UInt64;
  tip @2 :Data;
  tipTimestamp @3 :UInt64;
  publicKey @4 :Data;
  cumulativeWork @5 :Text;            # decimal, 128-bit
  nextDifficulty @6 :UInt64;
  issueDifficulty @7 :UInt64;         # free-issue work for one issue
  pendingRecords @8 :UInt64;
  producing @9 :Bool;
  version @10 :Text;
  anchorWindow @11 :UInt32;
  connectorState @12 :Text;           # empty when the node has no network
  peers @13 :UInt32;                  # live links
  syncTarget @14 :UInt64;             # best height seen among peers
  # A heavier branch this node does not follow, because it forks deeper
  # than the reorg window: the peer's key (empty: none), the last common
  # height, the blocks of ours it would replace, and its tip's height.
  deepForkPeer @15 :Data;
  deepForkHeight @16 :UInt64;
  deepForkDepth @17 :UInt64;
  deepForkTipHeight @18 :UInt64;
  # Why fetching blocks is paused (this node's storage failed, or the
  # blocks are not valid yet), retried with backoff; empty: not paused.
  fetchError @19 :Text;
  # A state sync's progress; absent when this node runs none.
  stateSync @20 :StateSyncProgress;
  # A block sync's progress; absent when no block fetch is under way.
  blockSync @21 :BlockSyncProgress;
  # The pool by kind: assets, issues (each of a batch) and transfers.
  pendingAssets @22 :UInt64;
  pendingIssues @23 :UInt64;
  pendingTransfers @24 :UInt64;
}

struct BlockSyncProgress {
  fromHeight @0 :UInt64;     # the fetch's first height
  height @1 :UInt64;         # applied, to this height
  targetHeight @2 :UInt64;
  recordsPerSecond @3 :UInt64;
  etaSeconds @4 :UInt64;     # 0: unknown
  peers @5 :UInt32;          # upstreams serving it now
  elapsedMs @6 :UInt64;
}

struct StateSyncProgress {
  phase @0 :Text;          # peers, headers, ranges, finishing, done
  headers @1 :UInt64;      # header chain fetched, to this height
  bestHeight @2 :UInt64;   # the best height peers claim
  targetHeight @3 :UInt64;
  targetRoot @4 :Data;
  rangesDone @5 :UInt64;   # key ranges held at the target root
  rangesLeft @6 :UInt64;   # queued or in flight
  keys @7 :UInt64;         # key/values held
  resumedKeys @8 :UInt64;  # of them, held when this run began
  bytes @9 :UInt64;        # proof bytes received
  keysPerSecond @10 :UInt64;
  etaSeconds @11 :UInt64;  # 0: unknown
  retargets @12 :UInt64;
  badProofs @13 :UInt64;
  elapsedMs @14 :UInt64;
  error @15 :Text;         # why it is not moving; empty: it is
}

struct ProvenanceEntry {
  recordId @0 :Data;
  kind @1 :Text;                      # "issue" or "transfer"
  owner @2 :Data;
  height @3 :Int64;                   # -1 while pending
}

struct Item {
  itemId @0 :Data;
  assetId @1 :Data;
  owner @2 :Data;
  provenance @3 :List(ProvenanceEntry);   # newest first
  # The history before this height is not kept (a state sync began the
  # chain there): the provenance ends early. 0: it is complete.
  historyFrom @4 :UInt64;
}

struct Owner {
  owner @0 :Data;
  items @1 :List(Data);
}

struct BlockInfo {
  hash @0 :Data;
  block @1 :Data;                     # an encoded Block
  # The header (162 bytes), always; `block` is empty when only the header
  # is kept (at or below the height a state sync began the chain at).
  header @2 :Data;
}

struct RecordInfo {
  recordId @0 :Data;
  record @1 :Data;                    # an encoded Record
  height @2 :Int64;                   # -1 while pending
  itemId @3 :Data;                    # empty for assets
  sub @4 :UInt16;                     # an issue's position in its batch
  kind @5 :Text;                      # "asset", "issue" or "transfer"
  # Known from a state sync only (its block's body is not kept): the height
  # where the sync began this chain, and `record` is empty; 0 otherwise.
  stateBase @6 :UInt64;
  owner @7 :Data;                     # the registrant, or the owner after it
}
