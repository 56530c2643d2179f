// The reply to a request a test sent from a scoped actor, once the test
// scheduler has run: shared by the actor test fixtures.
#pragma once

#include <optional>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

namespace hallmark::test {

/// The value or the error `handle` (a request of `self`'s) got; fails the
/// test if no reply is in `self`'s mailbox.
template <class T, class ResponseHandle>
caf::expected<T> reply_of(caf::scoped_actor& self, ResponseHandle& handle) {
  REQUIRE_MESSAGE(!self->mailbox().empty(), "the actor did not reply");
  std::optional<T> value;
  caf::error err;
  handle.receive([&](T& x) { value = std::move(x); },
                 [&](caf::error& e) { err = std::move(e); });
  if (value)
    return std::move(*value);
  REQUIRE(err);
  return err;
}

} // namespace hallmark::test
