#include "node/watchdog.hpp"

#include <unistd.h>

#include <algorithm>

#include "core/log.hpp"

namespace hallmark {

shutdown_watchdog::shutdown_watchdog(std::chrono::milliseconds limit,
                                     std::string socket_path,
                                     exit_fn on_deadline)
    : limit_(limit), deadline_(clock::now() + limit),
      socket_path_(std::move(socket_path)),
      on_deadline_(std::move(on_deadline)), thread_([this] { run(); }) {
  // nop
}

shutdown_watchdog::~shutdown_watchdog() {
  finish();
}

void shutdown_watchdog::step(std::string what) {
  std::lock_guard<std::mutex> guard{mutex_};
  step_ = std::move(what);
  waiting_.clear();
}

void shutdown_watchdog::waiting_for(std::vector<std::string> names) {
  std::lock_guard<std::mutex> guard{mutex_};
  waiting_ = std::move(names);
}

void shutdown_watchdog::stopped(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = std::find(waiting_.begin(), waiting_.end(), name);
  if (i != waiting_.end())
    waiting_.erase(i);
}

void shutdown_watchdog::flushed() {
  std::lock_guard<std::mutex> guard{mutex_};
  flushed_ = true;
}

void shutdown_watchdog::finish() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    finished_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

std::chrono::milliseconds
shutdown_watchdog::left(std::chrono::milliseconds margin,
                        std::chrono::milliseconds floor) const {
  auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline_ - clock::now())
              - margin;
  return std::max(rest, floor);
}

void shutdown_watchdog::run() {
  std::unique_lock<std::mutex> lock{mutex_};
  if (wake_.wait_until(lock, deadline_, [this] { return finished_; }))
    return;
  std::string parts;
  for (auto& name : waiting_)
    parts += (parts.empty() ? "" : ", ") + name;
  auto code = flushed_ ? 0 : 1;
  log_error("node",
            "shutdown did not finish within {} ms: stuck {}{}{}; the chain "
            "was {}; exiting now with code {}",
            limit_.count(), step_, parts.empty() ? "" : ", waiting for ", parts,
            flushed_ ? "flushed" : "NOT flushed", code);
  if (!socket_path_.empty())
    ::unlink(socket_path_.c_str());
  if (on_deadline_) {
    on_deadline_(code);
    return;
  }
  ::_exit(code);
}

} // namespace hallmark
