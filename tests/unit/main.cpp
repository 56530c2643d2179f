// The unit test executable's entry point; each *_test.cpp adds its suites.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
