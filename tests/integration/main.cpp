// The integration suite's main: doctest's, with SIGPIPE ignored, so a test
// writing to a connection the node closed (as a hostile client would) sees
// EPIPE instead of the whole suite dying without a report.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return doctest::Context{argc, argv}.run();
}
