// What `meson install` puts in place, used as installed: the binary finds
// the status page's files beside it, the man pages are roff, the systemd
// unit runs the installed binary. scripts/test installs into a staging
// directory and runs these with HALLMARK_INSTALLED=PREFIX (inside it) and
// HALLMARK_BIN=PREFIX/bin/hallmark; the plain integration run leaves them
// out.
#include "tests/integration/harness.hpp"

#include <httplib.h>

using namespace hallmark::test;

namespace {

std::string installed_prefix() {
  auto p = std::getenv("HALLMARK_INSTALLED");
  REQUIRE_MESSAGE(p != nullptr, "set HALLMARK_INSTALLED to the staged prefix");
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("installed: a man page per command group, and hallmark.conf(5)") {
  auto prefix = installed_prefix();
  for (auto page :
       {"man1/hallmark.1", "man1/hallmark-node.1", "man1/hallmark-query.1",
        "man1/hallmark-records.1", "man1/hallmark-blocks.1",
        "man1/hallmark-state.1", "man1/hallmark-key.1",
        "man1/hallmark-devnet.1", "man5/hallmark.conf.5"}) {
    CAPTURE(page);
    auto text = slurp(prefix + "/share/man/" + page);
    CHECK(text.find(".TH \"hallmark") != std::string::npos);
    CHECK(text.find(".SH") != std::string::npos);
  }
  // Every configuration key is in hallmark.conf(5).
  auto conf = slurp(prefix + "/share/man/man5/hallmark.conf.5");
  for (auto key : {"http_listen", "http_auth", "map_size_mb", "assume_valid",
                   "reorg_window", "peer"})
    CHECK_MESSAGE(conf.find(key) != std::string::npos, key);
  auto node = slurp(prefix + "/share/man/man1/hallmark-node.1");
  CHECK(node.find("backup") != std::string::npos);
}

TEST_CASE("installed: the systemd unit runs the installed binary, sandboxed") {
  auto prefix = installed_prefix();
  auto unit = slurp(prefix + "/lib/systemd/system/hallmark@.service");
  REQUIRE_FALSE(unit.empty());
  // The staged prefix is DESTDIR + the real one: the unit names the real.
  CHECK(unit.find("/bin/hallmark run --datadir ${STATE_DIRECTORY}")
        != std::string::npos);
  CHECK(unit.find("@BINDIR@") == std::string::npos);
  for (auto line : {"DynamicUser=yes", "StateDirectory=hallmark/%i",
                    "ProtectSystem=strict", "NoNewPrivileges=yes"})
    CHECK_MESSAGE(unit.find(line) != std::string::npos, line);
}

TEST_CASE("installed: the binary serves the page from its installed files") {
  auto prefix = installed_prefix();
  REQUIRE(hallmark_bin() == prefix + "/bin/hallmark");
  REQUIRE(std::getenv("HALLMARK_WEB_DIR") == nullptr);
  temp_dir dir;
  node n{dir, "n", {"http_listen = 127.0.0.1:19952"}};
  n.start(false);
  httplib::Client c{"127.0.0.1", 19952};
  auto page = c.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body == slurp(prefix + "/share/hallmark/web/index.html"));
  auto script = c.Get("/web/app.js");
  REQUIRE(script);
  CHECK(script->status == 200);
  CHECK(script->get_header_value("Content-Type").find("javascript")
        != std::string::npos);
  auto status = c.Get("/api/status");
  REQUIRE(status);
  CHECK(json::parse(status->body)["public_key"] == n.public_key());
}
