// A record's whole life through the real binary: register, issue, transfer,
// countersigned transfer, provenance; that it survives a restart; and that
// every way of stopping a node ends it within 5 s, even after a storage
// failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <csignal>
#include <cstring>
#include <functional>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace hallmark::test;

TEST_CASE("a record's whole life: register, issue, transfer, provenance") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  auto node_key = a.public_key();
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  auto carol = run_json({"keys", "new", "--out", dir / "carol.key"});
  std::string bob_pk = bob["public_key"];
  std::string carol_pk = carol["public_key"];

  auto reg = run_json({"asset", "register", "--datadir", a.datadir(), "--name",
                       "Sunflowers", "--fingerprint", "sha256:1234abcd",
                       "--meta", "artist=Vincent", "--meta", "year=1888"});
  std::string asset = reg["asset_id"];
  CHECK(asset.size() == 64);

  auto issued = run_json(
    {"issue", "--datadir", a.datadir(), "--asset", asset, "--count", "3"});
  REQUIRE(issued["items"].size() == 3);
  std::string item = issued["items"][0];

  // Pending at first or already in a block: either way the issue is listed.
  auto pending = run_json({"item", "--datadir", a.datadir(), item});
  CHECK(pending["owner"] == node_key);

  settled_item(a, item);
  auto t1 = run_json(
    {"transfer", "--datadir", a.datadir(), "--item", item, "--to", bob_pk});
  std::string rec1 = t1["record"];
  auto t2 = run_json({"transfer", "--datadir", a.datadir(), "--item", item,
                      "--to", carol_pk, "--key", dir / "bob.key",
                      "--countersign-key", dir / "carol.key"});
  std::string rec2 = t2["record"];

  auto j = settled_item(a, item);
  CHECK(j["owner"] == carol_pk);
  REQUIRE(j["provenance"].size() == 3);
  CHECK(j["provenance"][0]["record"] == rec2);
  CHECK(j["provenance"][0]["owner"] == carol_pk);
  CHECK(j["provenance"][1]["record"] == rec1);
  CHECK(j["provenance"][1]["owner"] == bob_pk);
  CHECK(j["provenance"][2]["record"] == item);
  CHECK(j["provenance"][2]["kind"] == "issue");
  CHECK(j["provenance"][2]["owner"] == node_key);
  CHECK(j["provenance"][0]["height"].get<uint64_t>()
        >= j["provenance"][2]["height"].get<uint64_t>());

  auto carol_items = run_json({"owner", "--datadir", a.datadir(), carol_pk});
  CHECK(carol_items["items"] == json::array({item}));
  auto node_items = run_json({"owner", "--datadir", a.datadir(), node_key});
  CHECK(node_items["items"].size() == 2);

  auto rec = run_json({"record", "--datadir", a.datadir(), rec2});
  CHECK(rec["kind"] == "transfer");
  CHECK(rec["item"] == item);
  auto blk = run_json({"block", "--datadir", a.datadir(),
                       std::to_string(rec["height"].get<uint64_t>())});
  bool found = false;
  for (auto& r : blk["records"])
    found = found || r["id"] == rec2;
  CHECK(found);
  auto by_hash = run_json(
    {"block", "--datadir", a.datadir(), blk["hash"].get<std::string>()});
  CHECK(by_hash["height"] == blk["height"]);

  // Everything survives a clean restart.
  auto before = a.status();
  CHECK(a.stop() == 0);
  a.start(false);
  auto after = a.status();
  CHECK(after["height"] == before["height"]);
  CHECK(after["tip"] == before["tip"]);
  CHECK(run_json({"item", "--datadir", a.datadir(), item}) == j);
}

TEST_CASE("refused records get a reason and a non-zero exit") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  std::string asset = run_json({"asset", "register", "--datadir", a.datadir(),
                                "--name", "A", "--fingerprint",
                                "fp-1"})["asset_id"];
  // The same fingerprint again: a duplicate.
  auto dup = run({"asset", "register", "--datadir", a.datadir(), "--name", "B",
                  "--fingerprint", "fp-1", "--json"});
  CHECK(dup.code != 0);
  CHECK(dup.err.find("duplicate") != std::string::npos);
  // Someone else than the registrant cannot issue the asset.
  auto foreign = run({"issue", "--datadir", a.datadir(), "--asset", asset,
                      "--key", dir / "bob.key", "--json"});
  CHECK(foreign.code != 0);
  CHECK(foreign.err.find("not_owner") != std::string::npos);
  std::string item = run_json(
    {"issue", "--datadir", a.datadir(), "--asset", asset})["items"][0];
  // Bob does not own the item: he cannot transfer it.
  auto theft = run({"transfer", "--datadir", a.datadir(), "--item", item,
                    "--to", bob["public_key"], "--key", dir / "bob.key",
                    "--json"});
  CHECK(theft.code != 0);
  CHECK(theft.err.find("not_owner") != std::string::npos);
  // Unknown item.
  auto unknown = run(
    {"item", "--datadir", a.datadir(), std::string(64, 'a'), "--json"});
  CHECK(unknown.code != 0);
  CHECK(unknown.err.find("not_found") != std::string::npos);
}

TEST_CASE("wrong arguments and no running node give one clear line") {
  temp_dir dir;
  auto bad = run({"status"});
  CHECK(bad.code == 2);
  CHECK(!bad.err.empty());
  auto nothing = run({"status", "--datadir", dir / "none", "--json"});
  CHECK(nothing.code != 0);
  CHECK(nothing.err.find("no node") != std::string::npos);
  auto verb = run({"frobnicate"});
  CHECK(verb.code == 2);
  node a{dir, "a"};
  auto twice = run({"init", "--datadir", a.datadir(), "--chain", "devnet"});
  CHECK(twice.code != 0);
  auto bad_hex = run({"item", "--datadir", a.datadir(), "xyz", "--json"});
  CHECK(bad_hex.code != 0);
  // A node refusing its configuration exits with the reason, never hangs.
  for (auto& extra :
       std::vector<std::vector<std::string>>{{"--peer", "garbage"},
                                             {"--listen", "999.1.1.1:5"},
                                             {"--listen", "127.0.0.1:70000"}}) {
    std::vector<std::string> args{"run", "--datadir", a.datadir()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args, 30s);
    CHECK(r.code == 2);
    CHECK(r.err.find(extra[1]) != std::string::npos);
  }
  auto loud = run({"run", "--datadir", a.datadir(), "--log-level", "loud"});
  CHECK(loud.code == 2);
}

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// One line on stderr: the message and a newline, nothing else.
bool one_line(const std::string& err) {
  return !err.empty() && err.find('\n') == err.size() - 1;
}

} // namespace

TEST_CASE("arguments the node could not run with are exit 2 at parse time") {
  temp_dir dir;
  auto key = std::string(64, 'a');
  // init writes nothing for a value the node would refuse.
  for (auto& extra : std::vector<std::vector<std::string>>{
         {"--listen", "garbage"},
         {"--peer", "zz"},
         {"--peer", key + "@nowhere"},
         {"--map-size-mb", "100", "--map-max-mb", "8"}}) {
    CAPTURE(extra[1]);
    auto where = dir / ("init-" + std::to_string(extra.size()) + extra[1]);
    std::vector<std::string> args{"init", "--datadir", where};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args);
    CHECK(r.code == 2);
    CHECK(one_line(r.err));
    CHECK_FALSE(std::filesystem::exists(where + "/hallmark.conf"));
  }
  auto both = run({"init", "--datadir", dir / "maps", "--map-size-mb", "100",
                   "--map-max-mb", "8"});
  CHECK(has(both.err, "map_max_mb (8)"));
  CHECK(has(both.err, "map_size_mb (100)"));

  node a{dir, "a"};
  for (auto& extra : std::vector<std::vector<std::string>>{
         {"--listen", "garbage"}, {"--peer", "zz"}, {"--map-max-mb", "8"}}) {
    CAPTURE(extra[0]);
    std::vector<std::string> args{"run", "--datadir", a.datadir()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args, 30s);
    CHECK(r.code == 2);
    CHECK(one_line(r.err));
  }

  for (auto bad : {"-1", "99999999999999999999", "9223372036854775807", "0",
                   "2592001", "1e3"}) {
    CAPTURE(bad);
    auto r = run({"devnet", "--nodes", "1", "--for", bad}, 30s);
    CHECK(r.code == 2);
    CHECK(has(r.err, "whole number of seconds within 1..2592000"));
  }

  auto count = run({"block", "export", "--datadir", a.datadir(), "--from", "0",
                    "--count", "0", "--out", dir / "x.blocks"});
  CHECK(count.code == 2);
  CHECK(has(count.err, "whole number of blocks within 1.."));
  CHECK_FALSE(has(count.err, "0.000000"));
  auto ban = run(
    {"peers", "ban", key, "--datadir", a.datadir(), "--for", "1e3"});
  CHECK(ban.code == 2);
  CHECK(has(ban.err, "whole number of seconds"));

  auto verb = run({"frobnicate"});
  CHECK(verb.code == 2);
  CHECK(has(verb.err, "unknown command 'frobnicate'"));
  CHECK(has(verb.err, "init, run"));
  CHECK(has(verb.err, "--help"));
  auto sub = run({"keys", "frob"});
  CHECK(sub.code == 2);
  CHECK(has(sub.err, "unknown command 'frob' for hallmark keys"));
  auto none = run({"keys"});
  CHECK(none.code == 2);
  CHECK(has(none.err, "a command is needed after `hallmark keys`: new, show"));
  auto early = run({"--datadir", dir.path()});
  CHECK(early.code == 2);
  CHECK(has(early.err, "a command is needed before '--datadir'"));
}

TEST_CASE("a bad config, a taken port, a wrong admin.sock: one clear line") {
  // Loopback port of this test: 19870.
  temp_dir dir;
  node a{dir, "a"};
  auto conf = a.datadir() + "/hallmark.conf";
  std::string original;
  {
    std::ifstream in{conf};
    original.assign(std::istreambuf_iterator<char>{in}, {});
  }
  auto with_line = [&](const std::string& line) {
    std::ofstream out{conf, std::ios::trunc};
    out << original << line << "\n";
  };

  with_line("reorg_window = 99999999999999999999999");
  auto big = run({"run", "--datadir", a.datadir()}, 30s);
  CHECK(big.code == 1);
  CHECK(has(big.err, "reorg_window is out of range"));
  CHECK(has(big.err, "1..10000"));
  with_line("map_size_mb = 100\nmap_max_mb = 8");
  auto maps = run({"run", "--datadir", a.datadir()}, 30s);
  CHECK(maps.code == 1);
  CHECK(has(maps.err, "map_max_mb (8) is below map_size_mb (100)"));
  with_line("listen = garbage");
  auto listen = run({"run", "--datadir", a.datadir()}, 30s);
  CHECK(listen.code == 1);
  CHECK(has(listen.err, "'garbage'"));
  with_line("");

  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(19870);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    auto taken = run(
      {"run", "--datadir", a.datadir(), "--listen", "127.0.0.1:19870"}, 30s);
    ::close(fd);
    CHECK(taken.code == 1);
    CHECK_MESSAGE(has(taken.err, "cannot listen on 127.0.0.1:19870: address "
                                 "already in use"),
                  taken.err);
    CHECK_FALSE(has(taken.err, "system_error"));
  }

  auto sock = a.datadir() + "/admin.sock";
  std::filesystem::create_directory(sock);
  auto dir_sock = run({"run", "--datadir", a.datadir()}, 30s);
  CHECK(dir_sock.code == 1);
  CHECK_MESSAGE(has(dir_sock.err, sock + " is a directory"), dir_sock.err);
  std::filesystem::remove(sock);

  auto etc = run({"status", "--datadir", "/etc"});
  CHECK(etc.code == 3);
  CHECK(has(etc.err, "not a Hallmark data directory"));
  CHECK_FALSE(has(etc.err, "hallmark run"));
  // A data directory without a node still says how to start one.
  auto idle = run({"status", "--datadir", a.datadir()});
  CHECK(idle.code == 3);
  CHECK(has(idle.err, "hallmark run --datadir"));
}

TEST_CASE("a truncated, emptied or missing store is refused, the chain kept") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true);
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 3; }));
  CHECK(a.stop() == 0);
  a.start(false);
  auto height = a.height();
  CHECK(a.stop() == 0);
  namespace fs = std::filesystem;
  for (std::string store : {"chain", "local"}) {
    auto data = a.datadir() + "/" + store + "/data.mdb";
    auto backup = dir / (store + ".backup");
    fs::copy_file(data, backup, fs::copy_options::overwrite_existing);
    auto size = fs::file_size(data);
    struct damage {
      std::string what;
      std::function<void()> apply;
      std::string said;
    };
    std::vector<damage> damages{
      // Below the pages in use (the chain's file is allocated ahead to its
      // map's size: cutting the unused end is no damage).
      {"truncated",
       [&] { fs::resize_file(data, std::min<uintmax_t>(size / 2, 12288)); },
       "data file is truncated"},
      {"cut to 8192 bytes", [&] { fs::resize_file(data, 8192); },
       "data file is truncated"},
      {"emptied", [&] { fs::resize_file(data, 0); }, "is empty (0 bytes)"},
      {"removed", [&] { fs::remove(data); }, "is missing"},
    };
    for (auto& d : damages) {
      CAPTURE(store);
      CAPTURE(d.what);
      d.apply();
      auto r = run({"run", "--datadir", a.datadir()}, 30s);
      CHECK(r.code == 1); // not 135 (SIGBUS), not a fresh chain
      CHECK_MESSAGE(has(r.err, d.said), r.err);
      CHECK_MESSAGE(has(r.err, "data.mdb"), r.err);
      fs::copy_file(backup, data, fs::copy_options::overwrite_existing);
    }
    CHECK(fs::file_size(data) == size);
  }
  // Nothing was re-created: the chain reopens where it was.
  a.start(false);
  CHECK(a.height() == height);
  CHECK(a.stop() == 0);
}

TEST_CASE("block import says how far it got when the node stops during it") {
  temp_dir dir;
  node a{dir, "a"};
  // One frame of 8 bytes: never decoded, as the "node" stops first.
  auto file = dir / "one.blocks";
  {
    std::ofstream out{file, std::ios::binary};
    const char frame[12] = {8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    out.write(frame, sizeof(frame));
  }
  // A node that takes the request and stops before it answers: its socket
  // goes, then the connection.
  auto sock = a.datadir() + "/admin.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock.size() < sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  std::thread stopping{[&] {
    int c = ::accept(fd, nullptr, nullptr);
    char buf[4096];
    if (c >= 0)
      (void)::read(c, buf, sizeof(buf));
    ::unlink(sock.c_str());
    ::close(fd);
    if (c >= 0)
      ::close(c);
  }};
  auto r = run({"block", "import", "--datadir", a.datadir(), file}, 30s);
  stopping.join();
  CHECK(r.code == 1);
  CHECK(one_line(r.err));
  CHECK_MESSAGE(has(r.err, "the node stopped during the import before "
                           "answering its first request (1 block"),
                r.err);
  CHECK(has(r.err, "check `hallmark status` for the height reached"));
}

TEST_CASE("--log-level drops the records below it") {
  temp_dir dir;
  node quiet{dir, "quiet"};
  quiet.start(false, {"--log-level", "warning"});
  CHECK(quiet.stop() == 0);
  CHECK(quiet.log().find(" info ") == std::string::npos);
  node chatty{dir, "chatty"};
  chatty.start(false);
  CHECK(chatty.stop() == 0);
  CHECK(chatty.log().find(" info  node: ") != std::string::npos);
}

// -- stopping ----------------------------------------------------------------

namespace {

/// The pid of the `hallmark run` serving `datadir`, or -1.
pid_t pid_of_node(const std::string& datadir) {
  auto wanted = std::string{"--datadir"} + '\0' + datadir + '\0';
  for (auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>{in}, {}};
    if (cmdline.find(wanted) != std::string::npos
        && cmdline.find(std::string{"run"} + '\0') != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

/// Whether `pid` has exited (a zombie waiting for its parent, or gone).
bool exited(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  auto close = stat.rfind(')');
  return stat.empty() || close == std::string::npos || close + 2 >= stat.size()
         || stat[close + 2] == 'Z';
}

/// Waits at most `limit` for `pid` to exit; how long it took, or nothing.
std::optional<std::chrono::milliseconds>
time_exit(pid_t pid, std::chrono::steady_clock::time_point since,
          std::chrono::milliseconds limit) {
  while (std::chrono::steady_clock::now() - since < limit) {
    if (exited(pid))
      return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - since);
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

/// The height of the last "chain flushed at height N" in `log`, or -1.
int64_t flushed_height(const std::string& log) {
  const std::string mark = "chain flushed at height ";
  auto at = log.rfind(mark);
  if (at == std::string::npos)
    return -1;
  return std::stoll(log.substr(at + mark.size()));
}

/// Stops `n` (running as `pid`) the way `how` says, checks that it exits by
/// itself within 5 s, and returns its exit code.
int stop_within_5s(node& n, pid_t pid, const std::string& how) {
  auto since = std::chrono::steady_clock::now();
  if (how == "SIGINT")
    ::kill(pid, SIGINT);
  else if (how == "SIGTERM")
    ::kill(pid, SIGTERM);
  else
    CHECK(run({"stop", "--datadir", n.datadir()}).code == 0);
  auto took = time_exit(pid, since, 5000ms);
  if (took)
    MESSAGE(how << " ended the node in " << took->count() << " ms");
  CHECK_MESSAGE(took.has_value(), how << " did not end the node within 5 s; "
                                         "its log:\n"
                                      << n.log());
  return n.stop(); // reaps it (a SIGTERM to the zombie does nothing)
}

} // namespace

TEST_CASE("SIGINT, SIGTERM and hallmark stop end a producing node within 5 s "
          "with exit 0, and its chain reopens at the flushed height") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 1", "flush_interval_ms = 300"}};
  uint64_t reached = 0;
  for (std::string how : {"SIGINT", "SIGTERM", "stop"}) {
    CAPTURE(how);
    a.start(true);
    auto pid = pid_of_node(a.datadir());
    REQUIRE(pid > 0);
    // Stopped while it produces: blocks keep coming, one a second at least.
    REQUIRE(a.wait_for(
      [&](const json& s) { return s["height"].get<uint64_t>() >= reached + 2; },
      30s));
    CHECK(stop_within_5s(a, pid, how) == 0);
    auto log = a.log();
    auto height = flushed_height(log);
    REQUIRE(height >= static_cast<int64_t>(reached + 2));
    CHECK(log.find("shutdown did not finish") == std::string::npos);
    // Reopened without producing, the chain is where the flush left it.
    a.start(false);
    CHECK(a.height() == static_cast<uint64_t>(height));
    CHECK(a.stop() == 0);
    reached = static_cast<uint64_t>(height);
  }
}

TEST_CASE("a node stopped right after a storage failure exits within 5 s "
          "with the documented code") {
  // Loopback port of this test: 19681.
  temp_dir dir;
  node a{
    dir, "a", {"empty_block_interval_s = 0", "min_block_interval_ms = 50"}};
  a.start(true, {"--listen", "127.0.0.1:19681"});
  fill_chain(a, 30); // about 4 MB of chain
  // b's chain map starts at 1 MiB, allocated on disk when it opens. Its
  // data files may not grow past that once it runs: a full disk as LMDB
  // sees it (allocating more for the map fails with EFBIG, as with ENOSPC),
  // met when the chain outgrows the map. SIGXFSZ is ignored, as a disk
  // filling up sends no signal.
  node b{dir, "b", {"map_size_mb = 1"}};
  auto old = std::signal(SIGXFSZ, SIG_IGN);
  b.start(false, {"--peer", a.public_key() + "@127.0.0.1:19681"});
  std::signal(SIGXFSZ, old);
  auto pid = pid_of_node(b.datadir());
  REQUIRE(pid > 0);
  // (If b's map grew before this, a later growth fails: the chain needs
  // 8 MiB.)
  rlimit small{1 << 20, 1 << 20};
  REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &small, nullptr) == 0);
  // The failure: a commit that failed, or a fetch that stopped on it.
  auto failed = [&] {
    if (b.log().find("flush failed") != std::string::npos)
      return true;
    auto s = b.status();
    return s.contains("fetch_error")
           && s["fetch_error"].get<std::string>().find("File too large")
                != std::string::npos;
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!failed() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(200ms);
  REQUIRE_MESSAGE(failed(), "no storage failure; the log:\n" << b.log());
  // Linked to a and still fetching from it while its commits fail.
  auto code = stop_within_5s(b, pid, "SIGTERM");
  MESSAGE("exit code " << code);
  auto log = b.log();
  CHECK(log.find("shutdown did not finish") == std::string::npos);
  // docs/operations.md: 0 when the final flush committed, 1 when it failed
  // (blocks of a commit that failed earlier were dropped, never committed).
  auto height = flushed_height(log);
  if (log.find("final flush failed") != std::string::npos) {
    CHECK(code == 1);
    height = -1;
  } else {
    CHECK(code == 0);
    CHECK(height >= 0); // the final flush said where it left the chain
  }
  // The disk has room again: the chain reopens at its last commit.
  b.start(false);
  if (height >= 0)
    CHECK(b.height() == static_cast<uint64_t>(height));
  else
    CHECK(b.status().contains("height"));
  CHECK(b.stop() == 0);
  CHECK(a.stop() == 0);
}

TEST_CASE("SIGINT, SIGTERM and hallmark stop end a syncing node within 5 s "
          "with exit 0, and its chain reopens at the flushed height") {
  // Loopback port of this file: 19680.
  temp_dir dir;
  // A producer as fast as it goes: the follower is always fetching.
  node a{
    dir, "a", {"empty_block_interval_s = 0", "min_block_interval_ms = 50"}};
  a.start(true, {"--listen", "127.0.0.1:19680"});
  // Ahead by 60 blocks at first, and by those it makes while the follower
  // is down after: every stop comes while the follower fetches.
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 60; }));
  node b{dir, "b", {"flush_interval_ms = 300"}};
  auto peer = a.public_key() + "@127.0.0.1:19680";
  int64_t reached = 0;
  for (std::string how : {"SIGINT", "SIGTERM", "stop"}) {
    CAPTURE(how);
    b.start(false, {"--peer", peer});
    auto pid = pid_of_node(b.datadir());
    REQUIRE(pid > 0);
    REQUIRE(b.wait_for(
      [&](const json& s) {
        return s["height"].get<int64_t>() >= reached + 5
               && s["connector_state"] != "Connecting";
      },
      30s));
    CHECK(stop_within_5s(b, pid, how) == 0);
    auto log = b.log();
    auto height = flushed_height(log);
    REQUIRE(height >= reached + 5);
    CHECK(log.find("shutdown did not finish") == std::string::npos);
    CHECK(log.find("fetching blocks") != std::string::npos);
    // Reopened with no peer, it stays where the flush left it.
    b.start(false);
    CHECK(b.height() == static_cast<uint64_t>(height));
    CHECK(b.stop() == 0);
    reached = height;
  }
  CHECK(a.stop() == 0);
}

TEST_CASE("backup copies a running node: the copy starts with its chain") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  fill_chain(a, 2);
  auto before = a.status();
  auto items = run_json({"owner", "--datadir", a.datadir(), a.public_key()});
  REQUIRE(items["items"].size() == 200);
  std::string item = items["items"][0];

  auto copy = dir / "copy";
  auto made = run(
    {"backup", "--datadir", a.datadir(), "--out", copy, "--json"});
  INFO(made.err);
  REQUIRE(made.code == 0);
  CHECK(made.js()["out"] == copy);
  CHECK(made.js()["chain_bytes"].get<uint64_t>() > 0);
  struct stat st {};
  REQUIRE(::stat((copy + "/identity.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  // The node went on while it was copied.
  CHECK(run({"status", "--datadir", a.datadir()}).code == 0);

  // Somewhere that already holds something, or a directory without a node:
  // refused, nothing written.
  auto again = run({"backup", "--datadir", a.datadir(), "--out", copy});
  CHECK(again.code == 2);
  CHECK(again.err.find("already holds something") != std::string::npos);
  auto nothing = run(
    {"backup", "--datadir", dir / "none", "--out", dir / "copy2"});
  CHECK(nothing.code == 1);
  CHECK_FALSE(std::filesystem::exists(dir / "copy2"));
  auto within = run(
    {"backup", "--datadir", a.datadir(), "--out", a.datadir() + "/chain/copy"});
  CHECK(within.code == 2);
  CHECK(within.err.find("inside the data directory") != std::string::npos);
  REQUIRE(::stat((copy + "/chain/data.mdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);

  // A backup killed in its copy (here by a file size limit: SIGXFSZ)
  // leaves nothing under its --out name, only its work beside it; and the
  // node clears the reader slot it died with at its next write.
  auto killed = dir / "killed";
  int died = std::system(("ulimit -f 64; exec " + hallmark_bin()
                          + " backup --datadir " + a.datadir() + " --out "
                          + killed + " 2>/dev/null")
                           .c_str());
  CHECK((WIFSIGNALED(died) || WEXITSTATUS(died) > 128));
  CHECK_FALSE(std::filesystem::exists(killed));
  bool partial = false;
  for (auto& entry : std::filesystem::directory_iterator{dir.path()})
    partial |= entry.path().filename().string().rfind("killed.partial-", 0)
               == 0;
  CHECK(partial);
  std::this_thread::sleep_for(1100ms);
  std::string after = run_json({"asset", "register", "--datadir", a.datadir(),
                                "--name", "after", "--fingerprint",
                                "after-1"})["asset_id"];
  run_json(
    {"issue", "--datadir", a.datadir(), "--asset", after, "--count", "1"});
  a.settle();
  CHECK_MESSAGE(a.log().find("cleared 1 reader slot") != std::string::npos,
                a.log());
  REQUIRE(a.stop() == 0);

  // The copy is the same node, with the same chain and state.
  background b{dir, "copy-run", {"run", "--datadir", copy}};
  json status;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = run({"status", "--datadir", copy, "--json"});
    if (r.code == 0) {
      status = r.js();
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE_MESSAGE(status.is_object(), "the copy did not start: " << b.err());
  CHECK(status["public_key"] == before["public_key"]);
  CHECK(status["height"] == before["height"]);
  CHECK(status["tip"] == before["tip"]);
  CHECK(run_json({"item", "--datadir", copy, item})["owner"] == a.public_key());
  CHECK(run({"stop", "--datadir", copy}).code == 0);
  CHECK(b.wait(30s) == 0);
}
