// `hallmark devnet` runs real nodes on loopback, walks a record through them
// and stops every one of them; `hallmark peers` and `status` show the links.
#include <dirent.h>

#include "tests/integration/harness.hpp"

using namespace hallmark::test;

namespace {

/// Pids of live processes whose command line mentions `text`.
std::vector<std::string> processes_mentioning(const std::string& text) {
  std::vector<std::string> pids;
  auto* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  while (auto* e = ::readdir(proc)) {
    std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{"/proc/" + pid + "/cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>{in}, {}};
    if (cmdline.find(text) != std::string::npos)
      pids.push_back(pid + ": " + cmdline);
  }
  ::closedir(proc);
  return pids;
}

} // namespace

TEST_CASE("devnet: 3 nodes converge, the demo completes, none is left") {
  temp_dir dir;
  auto net = dir / "net";
  auto r = run({"devnet", "--nodes", "3", "--for", "25", "--dir", net,
                "--base-port", "19600"},
               90s);
  INFO("stdout:\n" << r.out);
  INFO("stderr:\n" << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("tips agree at height") != std::string::npos);
  CHECK(r.out.find("demo: completed") != std::string::npos);
  // Nodes 1 and 2 were given only node 0: they met by announcements.
  CHECK(r.out.find("every node linked to the 2 others") != std::string::npos);
  // Records entered at node 1 and every node saw them in blocks.
  CHECK(r.out.find("all 3 nodes show carol as the owner") != std::string::npos);
  for (int i = 0; i < 3; ++i)
    CHECK(std::filesystem::exists(net + "/node-" + std::to_string(i)
                                  + "/node.log"));
  auto left = processes_mentioning(net);
  INFO("left behind: " << (left.empty() ? "" : left.front()));
  CHECK(left.empty());
}

TEST_CASE("devnet: 16 nodes stop by themselves within 5 s") {
  // Nodes used to log "stopped" and hang in the actor system's teardown:
  // a peer session's mailbox held block_processor, whose detached thread
  // the teardown waits for. Every node must now exit on its own, with 0.
  temp_dir dir;
  auto net = dir / "net";
  auto started = std::chrono::steady_clock::now();
  auto r = run({"devnet", "--nodes", "16", "--for", "6", "--dir", net,
                "--base-port", "19620"},
               120s);
  MESSAGE("devnet of 16 nodes ran "
          << std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now() - started)
               .count()
          << " s");
  INFO("stdout:\n" << r.out);
  INFO("stderr:\n" << r.err);
  CHECK(r.out.find("did not stop") == std::string::npos);
  CHECK(r.out.find("not every node stopped") == std::string::npos);
  for (int i = 0; i < 16; ++i) {
    auto line = "node " + std::to_string(i) + " stopped (exit 0) in ";
    auto at = r.out.find(line);
    CHECK_MESSAGE(at != std::string::npos, "node " << i);
    if (at == std::string::npos)
      continue;
    auto seconds = std::stod(r.out.substr(at + line.size()));
    CHECK_MESSAGE(seconds < 5.0, "node " << i << " took " << seconds << " s");
    // No node needed its shutdown watchdog.
    std::ifstream log{net + "/node-" + std::to_string(i) + "/node.log"};
    std::string text{std::istreambuf_iterator<char>{log}, {}};
    CHECK_MESSAGE(text.find("shutdown did not finish") == std::string::npos,
                  "node " << i);
    CHECK_MESSAGE(text.find("node: stopped") != std::string::npos,
                  "node " << i);
  }
  auto left = processes_mentioning(net);
  INFO("left behind: " << (left.empty() ? "" : left.front()));
  CHECK(left.empty());
}

TEST_CASE("devnet: arguments out of range exit 2") {
  CHECK(run({"devnet", "--nodes", "0"}).code == 2);
  CHECK(run({"devnet", "--nodes", "17"}).code == 2);
  CHECK(run({"devnet", "--nodes", "3", "--base-port", "65534"}).code == 2);
  CHECK(run({"devnet", "--nodes", "3", "--base-port", "0"}).code == 2);
  CHECK(run({"devnet", "--nodes", "3", "--for", "0"}).code == 2);
  auto r = run({"devnet", "--nodes", "99"});
  CHECK(r.err.find("--nodes must be 1 to 16") != std::string::npos);
}

TEST_CASE("peers: a static peer is listed with its link up") {
  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b"};
  auto address = "127.0.0.1:" + std::to_string(free_port());
  a.start(true, {"--listen", address});
  b.start(false, {"--peer", a.public_key() + "@" + address});

  json entry;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    entry = peer_entry(b, a.public_key());
    if (!entry.is_null() && entry["link"] == "up")
      break;
    std::this_thread::sleep_for(200ms);
  }
  INFO("b's entry for a: " << entry.dump() << "\nb's log:\n" << b.log());
  REQUIRE(!entry.is_null());
  CHECK(entry["link"] == "up");
  CHECK(entry["static"] == true);
  CHECK(entry["inbound"] == false);
  CHECK(entry["addresses"].dump().find(address) != std::string::npos);
  CHECK(entry["score"].is_number_integer());

  auto status = b.status();
  CHECK(status["peers"].get<uint64_t>() >= 1);
  CHECK(status["connector_state"].is_string());
  CHECK(!status["connector_state"].get<std::string>().empty());
  CHECK(status.contains("sync_target"));

  // The human forms: a table of peers, the network lines of status.
  auto table = run({"peers", "--datadir", b.datadir()});
  CHECK(table.code == 0);
  CHECK(table.out.rfind("KEY", 0) == 0);
  CHECK(table.out.find(a.public_key().substr(0, 16)) != std::string::npos);
  CHECK(table.out.find("static/out") != std::string::npos);
  auto human = run({"status", "--datadir", b.datadir()});
  CHECK(human.out.find("connector_state") != std::string::npos);
  CHECK(human.out.find("sync_target") != std::string::npos);
}
