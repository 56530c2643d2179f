// The shutdown watchdog: a plain thread (not an actor, so that no actor can
// keep it from running) that ends the process if the node's shutdown has
// not finished by a deadline. It logs the step the shutdown was in and the
// parts that had not stopped, removes the admin socket and calls `_exit`:
// 0 if the final flush had been done, 1 if not.
//
//   signal ─▶ watchdog armed (deadline = now + limit)
//               │ main thread: step("…"), waiting_for({…}), stopped(…),
//               │              flushed()
//               ├─ finish() before the deadline: the thread ends, nothing
//               │  else happens
//               └─ deadline: log_error("shutdown did not finish …"),
//                  unlink(admin.sock), _exit(flushed ? 0 : 1)
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hallmark {

class shutdown_watchdog {
public:
  using clock = std::chrono::steady_clock;

  /// What happens at the deadline; by default `_exit(code)`. Tests replace
  /// it.
  using exit_fn = std::function<void(int code)>;

  /// Arms the watchdog: the shutdown must finish within `limit`.
  /// @param socket_path removed before the process ends (empty: nothing).
  /// @param on_deadline called with the exit code at the deadline.
  shutdown_watchdog(std::chrono::milliseconds limit, std::string socket_path,
                    exit_fn on_deadline = {});
  shutdown_watchdog(const shutdown_watchdog&) = delete;
  shutdown_watchdog& operator=(const shutdown_watchdog&) = delete;
  /// Calls finish().
  ~shutdown_watchdog();

  /// The shutdown entered step `what` ("stopping intake", …); the parts it
  /// waited for are forgotten.
  void step(std::string what);

  /// The parts the current step waits for, by name.
  void waiting_for(std::vector<std::string> names);

  /// The part `name` stopped.
  void stopped(const std::string& name);

  /// The final flush is done: an exit at the deadline is then code 0.
  void flushed();

  /// The shutdown finished: disarms the watchdog and joins its thread.
  void finish();

  /// When the watchdog fires.
  clock::time_point deadline() const { return deadline_; }

  /// The time left before the deadline, less `margin`, never below `floor`.
  std::chrono::milliseconds
  left(std::chrono::milliseconds margin,
       std::chrono::milliseconds floor = std::chrono::milliseconds{50}) const;

private:
  void run();

  const std::chrono::milliseconds limit_;
  const clock::time_point deadline_;
  const std::string socket_path_;
  exit_fn on_deadline_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool finished_ = false;
  bool flushed_ = false;
  std::string step_ = "starting";
  std::vector<std::string> waiting_;
  std::thread thread_; ///< last: starts once every member exists
};

} // namespace hallmark
