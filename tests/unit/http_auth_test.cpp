// The HTTP API's token (node/cookie) and the node's metrics registry
// (core/metrics): what the HTTP server relies on, without a server.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "core/metrics.hpp"
#include "node/config.hpp"
#include "node/cookie.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;

TEST_CASE("cookie: made once, 0600, read back the same; refused when open") {
  test::temp_dir dir;
  auto path = dir.str() + "/.cookie";
  auto made = ensure_cookie(path);
  REQUIRE(made);
  CHECK(made->size() == 64);
  CHECK(from_hex_fixed<32>(*made));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = ensure_cookie(path);
  REQUIRE(again);
  CHECK(*again == *made);
  // Another data directory, another token.
  auto other = ensure_cookie(dir.str() + "/other");
  REQUIRE(other);
  CHECK(*other != *made);

  ::chmod(path.c_str(), 0644);
  auto open = ensure_cookie(path);
  REQUIRE_FALSE(open);
  CHECK(code_of(open.error()) == ec::io);
  CHECK(message_of(open.error()).find("chmod 600") != std::string::npos);

  ::chmod(path.c_str(), 0600);
  std::ofstream{path} << "not a token\n";
  auto garbage = ensure_cookie(path);
  REQUIRE_FALSE(garbage);
  CHECK(message_of(garbage.error()).find("delete it") != std::string::npos);
}

TEST_CASE("cookie: init writes one beside the key") {
  test::temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.str() + "/node";
  REQUIRE(init_datadir(cfg));
  auto token = ensure_cookie(cfg.cookie_path());
  REQUIRE(token);
  std::ifstream in{cfg.cookie_path()};
  std::string written;
  in >> written;
  CHECK(written == *token);
}

TEST_CASE("http auth: a token is required beyond loopback, or always") {
  CHECK(token_matches("abc", "abc"));
  CHECK_FALSE(token_matches("abd", "abc"));
  CHECK_FALSE(token_matches("ab", "abc"));
  CHECK_FALSE(token_matches("", "abc"));
  for (auto host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    CAPTURE(host);
    CHECK_FALSE(http_token_required("auto", host));
    CHECK(http_token_required("always", host));
  }
  for (auto host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "128.0.0.1",
                    "::ffff:127.0.0.1", "node.example"}) {
    CAPTURE(host);
    CHECK(http_token_required("auto", host));
  }
}

TEST_CASE("metrics: a histogram's buckets are cumulative; +Inf is the count") {
  metrics::histogram h;
  h.observe(0.0005); // first bucket
  h.observe(0.001);  // on a bound: in it
  h.observe(0.2);    // 0.25
  h.observe(100);    // above the last bound: +Inf only
  h.observe(-1);     // a clock step back: as 0
  CHECK(h.count() == 5);
  CHECK(h.cumulative(0) == 3);
  auto at = [](double bound) {
    for (size_t i = 0; i < metrics::histogram::bounds.size(); ++i)
      if (metrics::histogram::bounds[i] == bound)
        return i;
    FAIL("no bound " << bound);
    return size_t{0};
  };
  CHECK(h.cumulative(at(0.1)) == 3);
  CHECK(h.cumulative(at(0.25)) == 4);
  CHECK(h.cumulative(at(30)) == 4);
  CHECK(h.sum() == doctest::Approx(100.2015).epsilon(1e-6));

  metrics::counter c;
  c.add();
  c.add(41);
  CHECK(c.value() == 42);
}
