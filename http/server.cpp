#include "http/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <httplib.h>
#include <sodium.h>

#include "client/admin_client.hpp"
#include "client/render.hpp"
#include "core/chain.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/metrics.hpp"
#include "messages/codec.hpp"
#include "messages/registration.hpp"
#include "node/cookie.hpp"

namespace fs = std::filesystem;

namespace hallmark {

namespace {

using httplib::Request;
using httplib::Response;

/// Most blocks GET /api/blocks lists at once.
constexpr uint64_t max_listed_blocks = 100;

/// How often an idle event stream sends a comment, so proxies and clients
/// see the connection is alive.
constexpr auto stream_heartbeat = std::chrono::seconds{15};

uint64_t unix_seconds() {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
}

// -- answers ------------------------------------------------------------------

/// Answers `j` with `status`, as `--json` prints it (json_text).
void answer(Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(json_text(j), "application/json");
}

/// Answers {"error": {"code", "message"}} with `status`.
void refuse(Response& res, int status, std::string_view code,
            const std::string& message) {
  json j;
  j["error"]["code"] = code;
  j["error"]["message"] = message;
  answer(res, j, status);
}

/// The HTTP status for a node's error code: the client's fault is 4xx, the
/// node's (or its not running) 5xx.
int status_of(ec code) {
  switch (code) {
  case ec::not_found:
    return 404;
  case ec::malformed:
  case ec::bad_request:
    return 400;
  case ec::too_large:
    return 413;
  case ec::not_running:
  case ec::shutting_down:
  case ec::state_syncing:
  case ec::io:
  case ec::storage:
  case ec::internal:
  case ec::pool_full: // later, it may take it
    return 503;
  case ec::none: // not one of the node's codes: a failure on the way
    return 500;
  default:
    // A record or block a rule refused: understood, not acceptable.
    return 422;
  }
}

/// Answers the node's error.
void refuse(Response& res, const caf::error& err) {
  auto code = code_of(err);
  refuse(res, status_of(code), code == ec::none ? "error" : to_string(code),
         message_of(err));
}

/// Answers `ask(client)`'s reply rendered by `to_json(root)` (caf::expected
/// or json), or the error on the way.
template <class Ask, class ToJson>
void relay(const std::string& datadir, Response& res, Ask ask, ToJson to_json) {
  auto reply = ask_node(datadir, ask);
  if (!reply)
    return refuse(res, reply.error());
  caf::expected<json> j = to_json(reply->root());
  if (!j)
    return refuse(res, j.error());
  answer(res, *j);
}

/// One block of GET /api/blocks: its header's fields and its record count,
/// as a block counts them (each issue of a batch); null when only the header
/// is kept. No record is rendered: a full block holds 10 000.
caf::expected<json> block_summary(schema::BlockInfo::Reader info) {
  auto hdr = header_from_bytes(
    byte_view{info.getHeader().begin(), info.getHeader().size()});
  if (!hdr)
    return make_error(ec::malformed, "the node sent no header");
  json j;
  j["height"] = hdr->height;
  j["hash"] = to_hex(block_hash(*hdr));
  j["timestamp"] = hdr->timestamp;
  j["difficulty"] = hdr->difficulty;
  j["producer"] = to_hex(hdr->producer);
  j["records"] = nullptr;
  if (info.getBlock().size() > 0) {
    auto bytes = copy_of(info.getBlock());
    auto b = bytes ? decode_block(*bytes) : caf::expected<block>{bytes.error()};
    if (!b)
      return b.error();
    j["records"] = record_count(*b);
  }
  return j;
}

/// The 32 bytes of a path's hex match (the route's pattern checked its form).
hash256 hex32_of(const std::string& text) {
  return *from_hex_fixed<32>(text);
}

// -- guards -------------------------------------------------------------------

/// Token buckets per client address: `rate` a second, bursts of 2 × rate.
class rate_limiter {
public:
  explicit rate_limiter(uint64_t rate) : rate_(static_cast<double>(rate)) {}

  /// Whether `address` may make one more request now.
  bool allow(const std::string& address) {
    if (rate_ <= 0)
      return true;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard guard{mutex_};
    if (buckets_.size() > max_addresses)
      forget_idle(now);
    auto [i, fresh] = buckets_.try_emplace(address, bucket{burst(), now});
    auto& b = i->second;
    if (!fresh) {
      std::chrono::duration<double> dt = now - b.last;
      b.tokens = std::min(burst(), b.tokens + dt.count() * rate_);
      b.last = now;
    }
    if (b.tokens < 1)
      return false;
    b.tokens -= 1;
    return true;
  }

private:
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };

  /// Addresses tracked before the idle ones are forgotten.
  static constexpr size_t max_addresses = 4096;

  double burst() const { return 2 * rate_; }

  /// Drops the buckets that would be full by now: forgetting them changes
  /// nothing.
  void forget_idle(std::chrono::steady_clock::time_point now) {
    for (auto i = buckets_.begin(); i != buckets_.end();) {
      std::chrono::duration<double> dt = now - i->second.last;
      if (i->second.tokens + dt.count() * rate_ >= burst())
        i = buckets_.erase(i);
      else
        ++i;
    }
  }

  double rate_;
  std::mutex mutex_;
  std::unordered_map<std::string, bucket> buckets_;
};

/// The token a request carries: `Authorization: Bearer TOKEN`, or Basic with
/// user `__cookie__` (bitcoind's form); for an event stream, whose browser
/// API cannot send headers, also `?token=TOKEN`. "" if none.
std::string token_of(const Request& req, bool query_allowed) {
  auto header = req.get_header_value("Authorization");
  // The scheme's name is case-insensitive (RFC 9110, 11.1).
  auto scheme = [&](std::string_view name) {
    return header.size() > name.size()
           && std::equal(
             name.begin(), name.end(), header.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a))
                      == std::tolower(static_cast<unsigned char>(b));
             });
  };
  if (scheme("Bearer "))
    return header.substr(7);
  if (scheme("Basic ")) {
    auto coded = header.substr(6);
    std::string plain(coded.size(), '\0');
    size_t n = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(plain.data()),
                          plain.size(), coded.data(), coded.size(), nullptr, &n,
                          nullptr, sodium_base64_VARIANT_ORIGINAL)
        != 0)
      return {};
    plain.resize(n);
    constexpr std::string_view user = "__cookie__:";
    if (plain.rfind(user, 0) == 0)
      return plain.substr(user.size());
    return {};
  }
  if (query_allowed && req.has_param("token"))
    return req.get_param_value("token");
  return {};
}

/// Why binding `host`:`port` fails, as the kernel says, or "" if it would
/// not. httplib says only that it failed.
std::string why_not_bindable(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return "not an address of this machine (give an IP address)";
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return std::strerror(errno);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  std::string why;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0)
    why = std::strerror(errno);
  ::close(fd);
  return why;
}

/// The port of an IPv4 or IPv6 address, else 0.
uint16_t port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

/// Calls `f(fd, listening)` for every TCP socket of this process whose
/// local port is `port` (httplib keeps its sockets to itself). Stops early
/// when `f` returns true.
template <class F>
void for_each_socket(uint16_t port, F f) {
  std::error_code fe;
  for (auto& entry : fs::directory_iterator{"/proc/self/fd", fe}) {
    int fd = -1;
    auto name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec
        != std::errc{})
      continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      continue;
    int listening = 0;
    socklen_t size = sizeof listening;
    if (port_of(addr) != port
        || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0)
      continue;
    if (f(fd, listening != 0))
      return;
  }
}

/// Calls `f(fd)` for every connection of the HTTP server on `port` (its
/// sockets that do not listen). Stops early when `f` returns true.
template <class F>
void for_each_connection(uint16_t port, F f) {
  for_each_socket(port,
                  [&](int fd, bool listening) { return !listening && f(fd); });
}

/// Shuts down (both ways) every connection of the HTTP server on `port`,
/// once its listening socket is closed. A worker blocked on one returns at
/// once.
void cut_connections(uint16_t port) {
  for_each_connection(port, [](int fd) {
    ::shutdown(fd, SHUT_RDWR);
    return false;
  });
}

/// The connection `req` came on, found by its peer's address and port, or
/// -1 if it is gone.
int socket_of(const Request& req) {
  if (req.local_port <= 0 || req.remote_port <= 0)
    return -1;
  // httplib writes the peer's address as getnameinfo does (an IPv6 one
  // may carry a %scope).
  auto text = req.remote_addr.substr(0, req.remote_addr.find('%'));
  in6_addr want6{};
  in_addr want4{};
  bool v6 = ::inet_pton(AF_INET6, text.c_str(), &want6) == 1;
  if (!v6 && ::inet_pton(AF_INET, text.c_str(), &want4) != 1)
    return -1;
  int found = -1;
  for_each_connection(static_cast<uint16_t>(req.local_port), [&](int fd) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0
        || port_of(peer) != req.remote_port)
      return false;
    bool same = v6 ? peer.ss_family == AF_INET6
                       && std::memcmp(
                            &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr,
                            &want6, sizeof want6)
                            == 0
                   : peer.ss_family == AF_INET
                       && reinterpret_cast<sockaddr_in*>(&peer)->sin_addr.s_addr
                            == want4.s_addr;
    if (same)
      found = fd;
    return same;
  });
  return found;
}

/// The reason phrase of a status this server answers itself.
const char* reason_of(int status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 411:
    return "Length Required";
  case 413:
    return "Payload Too Large";
  case 414:
    return "URI Too Long";
  case 429:
    return "Too Many Requests";
  default:
    return "Error";
  }
}

/// Sends `res` on `req`'s connection and ends the connection, for an answer
/// given before httplib read the request's body, or to a request it could
/// not parse. httplib 0.11 would go on to read that body (or the rest of
/// the line) as the next request on the connection: request smuggling past
/// a proxy that saw one request. It keeps a connection open whatever the
/// answer says, so the answer is written here with `Connection: close`,
/// the sending side is shut, and what the client still sends is read and
/// dropped for up to a second (closing with unread bytes would reset the
/// connection, and the client could lose the answer). httplib's own write
/// of `res` then fails, which ends its loop on the connection.
void answer_and_close(const Request& req, const Response& res) {
  int fd = socket_of(req);
  if (fd < 0)
    return;
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " "
                    + reason_of(res.status) + "\r\n";
  for (auto& [name, value] : res.headers)
    out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(res.body.size())
         + "\r\nConnection: close\r\n\r\n" + res.body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{1};
  auto left_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
  };
  for (size_t sent = 0; sent < out.size();) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) != 1)
      break;
    auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char drop[4096];
  for (int ms = left_ms(); ms > 0; ms = left_ms()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1 || ::recv(fd, drop, sizeof drop, 0) <= 0)
      break;
  }
}

/// Whether an HTTP Host header names this machine's loopback: `localhost`
/// or a loopback address, with or without a port. No Host at all (an
/// HTTP/1.0 client) is taken too: a browser always sends one.
bool loopback_host(const std::string& host) {
  if (host.empty())
    return true;
  std::string name = host;
  if (name.front() == '[') {
    auto end = name.find(']');
    if (end == std::string::npos)
      return false;
    name = name.substr(1, end - 1);
  } else if (auto colon = name.rfind(':'); colon != std::string::npos) {
    name.resize(colon);
  }
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return !http_token_required("auto", name);
}

/// Whether `req` carries a body that httplib reads only after the
/// pre-routing handler (a Content-Length other than 0, or any
/// Transfer-Encoding).
bool carries_body(const Request& req) {
  return req.has_header("Transfer-Encoding")
         || (req.has_header("Content-Length")
             && req.get_header_value("Content-Length") != "0");
}

// -- the worker threads -------------------------------------------------------

/// How many threads a burst of connections may take, as a multiple of
/// http_threads.
constexpr size_t burst_threads_factor = 16;

/// How long a thread started for a burst waits for more work before it ends.
constexpr auto burst_thread_idle = std::chrono::seconds{5};

/// httplib's task queue, one task per connection, elastic: `kept` threads
/// always, and one more for a connection that finds them all busy, up to
/// `most`; a thread started so ends after burst_thread_idle without work.
/// A thread serves a connection for as long as it lives, and one that says
/// nothing, or is kept alive, holds it for its timeout (1 s): with a fixed
/// pool, a handful of silent connections (a browser's preconnects, a
/// careless or hostile client) made every other request wait behind them.
class elastic_pool final : public httplib::TaskQueue {
public:
  elastic_pool(size_t kept, size_t most) : kept_(kept), most_(most) {
    std::lock_guard lock{mutex_};
    for (size_t i = 0; i < kept_; ++i)
      start();
  }

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock{mutex_};
    jobs_.push_back(std::move(fn));
    if (idle_ < jobs_.size() && live_ < most_)
      start();
    wake_.notify_one();
  }

  void shutdown() override {
    std::unique_lock lock{mutex_};
    stopping_ = true;
    wake_.notify_all();
    ended_.wait(lock, [&] { return live_ == 0; });
  }

private:
  /// Starts a thread; `mutex_` is held.
  void start() {
    ++live_;
    std::thread{[this] { work(); }}.detach();
  }

  void work() {
    std::unique_lock lock{mutex_};
    auto ready = [&] { return stopping_ || !jobs_.empty(); };
    while (true) {
      ++idle_;
      // A thread beyond the kept ones ends after a while without work;
      // whether it is beyond is asked after each wait, as others end
      // (each ends holding the lock, so no more than the extra ones go).
      bool expired = false;
      while (!ready()) {
        if (wake_.wait_for(lock, burst_thread_idle, ready))
          break;
        if (live_ > kept_) {
          expired = true;
          break;
        }
      }
      --idle_;
      if (expired || (stopping_ && jobs_.empty()))
        break;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
    --live_;
    ended_.notify_all();
  }

  const size_t kept_;
  const size_t most_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable ended_;
  std::deque<std::function<void()>> jobs_;
  size_t live_ = 0;
  size_t idle_ = 0;
  bool stopping_ = false;
};

// -- the server ---------------------------------------------------------------

class http_server final : public node_service {
public:
  http_server(const node_config& cfg, std::string host, uint16_t port,
              std::string token)
      : datadir_(cfg.datadir), host_(std::move(host)), port_(port),
        token_(std::move(token)),
        token_required_(http_token_required(cfg.http_auth, host_)),
        threads_(cfg.http_threads),
        // At least one thread always left for the other requests.
        max_streams_(static_cast<int64_t>(cfg.http_threads / 2)),
        limiter_(cfg.http_rate), web_dir_(find_web_dir()) {
    auto threads = threads_;
    server_.new_task_queue = [threads] {
      return new elastic_pool(threads, threads * burst_threads_factor);
    };
    server_.set_payload_max_length(cfg.http_max_body_kb * 1024);
    server_.set_read_timeout(5, 0);
    server_.set_write_timeout(5, 0);
    // A kept-alive connection holds a worker while it waits: 1 s frees it
    // between the status page's polls (every 2 s).
    server_.set_keep_alive_timeout(1);
    server_.set_keep_alive_max_count(100);
    server_.set_tcp_nodelay(true);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
    // second node given the same http_listen would share the port unseen.
    server_.set_socket_options([](int sock) {
      int on = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    });
    guard();
    routes();
  }

  ~http_server() override { stop(); }

  /// Binds the address; ec::io with the kernel's reason if it cannot.
  caf::error bind() {
    auto why = why_not_bindable(host_, port_);
    if (why.empty() && server_.bind_to_port(host_, port_)) {
      // cpp-httplib 0.11 listens with a backlog of 5: a burst of
      // connections beyond it had its SYNs dropped, and waited seconds
      // for the kernel's retry. Listening again raises it.
      for_each_socket(port_, [](int fd, bool listening) {
        if (listening)
          ::listen(fd, SOMAXCONN);
        return listening;
      });
      return {};
    }
    return make_error(ec::io,
                      "cannot listen for HTTP on " + address()
                        + " (http_listen): " + (why.empty() ? "refused" : why));
  }

  void start() override {
    log_info("http", "serving the API and the status page on http://{}/{}",
             address(),
             token_required_ ? " (token required: DATADIR/.cookie)" : "");
    if (web_dir_.empty())
      log_warning("http", "the status page's files are not installed: / "
                          "answers 404 (set HALLMARK_WEB_DIR)");
    thread_ = std::thread{[this] {
      server_.listen_after_bind();
      done_ = true;
    }};
  }

  void stop() override {
    stopping_ = true;
    if (!thread_.joinable())
      return;
    server_.stop();
    // httplib closes its listening socket, then waits for each worker's
    // connection to end by itself: a kept-alive or slow client would hold
    // the node's stop for its timeouts, a trickling one for ever. Event
    // streams see `stopping_` within 0.25 s and send `end`; then every
    // connection still open is cut.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
    for (int round = 0; !done_ && std::chrono::steady_clock::now() < deadline;
         ++round) {
      if (round >= 6)
        cut_connections(port_);
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    thread_.join();
  }

private:
  std::string address() const {
    return host_.find(':') != std::string::npos
             ? "[" + host_ + "]:" + std::to_string(port_)
             : host_ + ":" + std::to_string(port_);
  }

  /// Rate, token and the answers to what no route takes.
  void guard() {
    server_.set_pre_routing_handler([this](const Request& req, Response& res) {
      using handled = httplib::Server::HandlerResponse;
      // Every answer here comes before httplib reads the body: a request
      // that carries one gets its answer and the connection ends.
      auto refused = [&] {
        if (carries_body(req))
          answer_and_close(req, res);
        return handled::Handled;
      };
      if (!limiter_.allow(req.remote_addr)) {
        res.set_header("Retry-After", "1");
        refuse(res, 429, "rate_limited",
               "more than http_rate requests a second from " + req.remote_addr);
        return refused();
      }
      // DNS rebinding: a page of another site whose name is pointed at
      // 127.0.0.1 could read a node that asks for no token. Such a node
      // answers only requests for a loopback name (as geth's vhosts).
      if (!token_required_ && !loopback_host(req.get_header_value("Host"))) {
        refuse(res, 403, "forbidden_host",
               "this node asks for no token, so it answers only requests "
               "for localhost or a loopback address (Host: "
                 + req.get_header_value("Host")
                 + "); set http_auth = always to serve other names");
        return refused();
      }
      // A body's size must be known before it is read: httplib bounds a
      // Content-Length by http_max_body_kb, but not a chunked body.
      if (req.has_header("Transfer-Encoding")) {
        refuse(res, 411, "length_required",
               "send the body with a Content-Length, not chunked");
        return refused();
      }
      // The page's own files hold no data of the node: they load without
      // the token, and the page then sends it (docs/api.md).
      bool page = req.path == "/" || req.path.rfind("/web/", 0) == 0;
      if (token_required_ && !page
          && !token_matches(token_of(req, req.path == "/api/events"), token_)) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"hallmark\"");
        refuse(res, 401, "unauthorized",
               "this node's HTTP API needs the token in DATADIR/.cookie "
               "(Authorization: Bearer TOKEN)");
        return refused();
      }
      return handled::Unhandled;
    });
    using with_response = httplib::Server::HandlerWithResponse;
    server_.set_error_handler(
      with_response{[](const Request& req, Response& res) {
        using handled = httplib::Server::HandlerResponse;
        if (!res.body.empty())
          return handled::Unhandled; // a route's own JSON reason
        switch (res.status) {
        case 404:
          refuse(res, 404, "not_found",
                 "no such endpoint: " + req.method + " " + req.path);
          break;
        case 413:
          // cpp-httplib reads a form-encoded body only up to 8 KiB.
          refuse(res, 413, "too_large",
                 req.get_header_value("Content-Type")
                       .rfind("application/x-www-form-urlencoded", 0)
                     == 0
                   ? "a form-encoded request body is limited to 8 KiB; send "
                     "it as application/json"
                   : "the request body is larger than http_max_body_kb");
          break;
        case 414:
          refuse(res, 414, "too_large", "the request line is too long");
          break;
        default:
          refuse(res, res.status, "bad_request",
                 "the request is malformed, or its method is not one this "
                 "server knows (GET and POST are served)");
        }
        // httplib read the body of a 404 and skipped that of a 413; of a
        // request it could not parse, it left the rest unread.
        if (res.status != 404 && res.status != 413)
          answer_and_close(req, res);
        return handled::Handled;
      }});
    server_.set_exception_handler(
      [](const Request&, Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log_error("http", "a request failed: {}", what);
        refuse(res, 500, "internal", "the request failed: " + what);
      });
    server_.set_logger([](const Request&, const Response& res) {
      auto& m = metrics::node();
      m.http_requests.add();
      if (res.status >= 400)
        m.http_refused.add();
    });
  }

  /// GET `prefix`{64 hex digits}: `ask(client, id)`'s reply rendered by
  /// `to_json`.
  template <class Ask, class ToJson>
  void by_id(const std::string& prefix, Ask ask, ToJson to_json) {
    server_.Get(prefix + "([0-9a-fA-F]{64})",
                [this, ask, to_json](const Request& req, Response& res) {
                  auto id = hex32_of(req.matches[1].str());
                  relay(
                    datadir_, res, [&](admin_client& c) { return ask(c, id); },
                    to_json);
                });
  }

  void routes() {
    server_.Get("/api/status", [this](const Request&, Response& res) {
      relay(
        datadir_, res, [](admin_client& c) { return c.status(); },
        [](auto root) { return status_json(root.getStatus()); });
    });
    server_.Get("/api/peers", [this](const Request&, Response& res) {
      relay(
        datadir_, res,
        [](admin_client& c) {
          capnp::MallocMessageBuilder msg;
          msg.initRoot<schema::Request>().setPeers();
          return c.call(msg, schema::Reply::PEERS);
        },
        [](auto root) { return peers_json(root.getPeers()); });
    });
    auto block = [](auto root) { return block_reply_json(root.getBlock()); };
    auto record = [](auto root) { return record_reply_json(root.getRecord()); };
    server_.Get("/api/block/([0-9]{1,19})", [this, block](const Request& req,
                                                          Response& res) {
      auto height = std::stoull(req.matches[1].str());
      relay(
        datadir_, res,
        [&](admin_client& c) { return c.block_by_height(height); }, block);
    });
    by_id(
      "/api/block/",
      [](admin_client& c, const hash256& id) { return c.block_by_hash(id); },
      block);
    server_.Get("/api/blocks", [this](const Request& req, Response& res) {
      list_blocks(req, res);
    });
    by_id(
      "/api/record/",
      [](admin_client& c, const hash256& id) { return c.record_info(id); },
      record);
    by_id(
      "/api/asset/",
      [](admin_client& c, const hash256& id) { return c.asset(id); }, record);
    by_id(
      "/api/item/",
      [](admin_client& c, const hash256& id) { return c.item(id); },
      [](auto root) { return item_json(root.getItem()); });
    by_id(
      "/api/owner/",
      [](admin_client& c, const hash256& key) { return c.owner(key); },
      [](auto root) { return owner_json(root.getOwner()); });
    server_.Post("/api/records", [this](const Request& req, Response& res) {
      submit(req, res);
    });
    server_.Get("/api/events",
                [this](const Request&, Response& res) { stream_tips(res); });
    server_.Get("/metrics",
                [this](const Request&, Response& res) { serve_metrics(res); });
    server_.Get("/", [this](const Request&, Response& res) {
      serve_file("index.html", res);
    });
    server_.Get("/web/([A-Za-z0-9_-]+\\.(?:html|css|js|svg|png))",
                [this](const Request& req, Response& res) {
                  serve_file(req.matches[1].str(), res);
                });
  }

  /// GET /api/blocks?from=H&count=N: a summary of up to N (default 10, at
  /// most 100) blocks from height H, ascending; without `from`, the newest.
  /// `records` counts as a block does (each issue of a batch); null for a
  /// block of which only the header is kept.
  void list_blocks(const Request& req, Response& res) {
    auto number = [&](const char* name,
                      uint64_t fallback) -> std::optional<uint64_t> {
      if (!req.has_param(name))
        return fallback;
      auto text = req.get_param_value(name);
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                       v);
      if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
      return v;
    };
    auto count = number("count", 10);
    if (!count || *count < 1 || *count > max_listed_blocks)
      return refuse(res, 400, "bad_request",
                    "count must be a whole number within 1..100");
    auto client = admin_client::connect(datadir_);
    if (!client)
      return refuse(res, client.error());
    auto st = client->status();
    if (!st)
      return refuse(res, st.error());
    auto height = st->root().getStatus().getHeight();
    auto newest_first = height + 1 > *count ? height + 1 - *count : 0;
    auto from = number("from", newest_first);
    if (!from)
      return refuse(res, 400, "bad_request", "from must be a height");
    auto blocks = json::array();
    for (auto h = *from; h <= height && h < *from + *count; ++h) {
      auto reply = client->block_by_height(h);
      if (!reply)
        return refuse(res, reply.error());
      auto entry = block_summary(reply->root().getBlock());
      if (!entry)
        return refuse(res, entry.error());
      blocks.push_back(std::move(*entry));
    }
    json j;
    j["blocks"] = std::move(blocks);
    answer(res, j);
  }

  /// POST /api/records {"records": ["HEX", ...]}: signed records, each the
  /// hex of its encoding, submitted all or nothing; {"submitted": [id...]}.
  void submit(const Request& req, Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("records")
        || !body["records"].is_array() || body["records"].empty())
      return refuse(res, 400, "bad_request",
                    "expected {\"records\": [\"HEX\", ...]} with at least one "
                    "record");
    std::vector<record> records;
    for (auto& item : body["records"]) {
      auto bytes = item.is_string() ? from_hex(item.get<std::string>())
                                    : std::nullopt;
      if (!bytes)
        return refuse(res, 400, "bad_request",
                      "record " + std::to_string(records.size())
                        + " is not a string of hex");
      auto copy = encoded::copy_of(*bytes);
      auto r = copy ? decode_record(*copy)
                    : caf::expected<record>{copy.error()};
      if (!r)
        return refuse(res, status_of(code_of(r.error())),
                      to_string(code_of(r.error())),
                      "record " + std::to_string(records.size()) + ": "
                        + message_of(r.error()));
      records.push_back(std::move(*r));
    }
    relay(
      datadir_, res, [&](admin_client& c) { return c.submit(records); },
      [](auto root) {
        json j;
        j["submitted"] = json::array();
        for (auto id : root.getSubmitted())
          j["submitted"].push_back(hex_of(id));
        return j;
      });
  }

  /// GET /api/events: Server-Sent Events, one `tip` event per new tip
  /// (data as `hallmark watch --json`), `end` when the node stops.
  void stream_tips(Response& res) {
    if (streams_.fetch_add(1) >= max_streams_) {
      --streams_;
      return refuse(res, 503, "busy",
                    "every event stream this node serves is taken (half of "
                    "http_threads; none when it is 1)");
    }
    auto client = admin_client::connect(datadir_);
    caf::error err = client ? client->watch() : client.error();
    if (err) {
      --streams_;
      return refuse(res, err);
    }
    auto watching = std::make_shared<admin_client>(std::move(*client));
    auto opened = std::make_shared<bool>(false);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
      "text/event-stream",
      [this, watching, opened](size_t, httplib::DataSink& sink) {
        if (!*opened) {
          // A comment at once: the headers go out, the client sees the
          // stream open before the first tip.
          *opened = true;
          std::string hello = ": watching tips\n\n";
          return sink.write(hello.data(), hello.size());
        }
        return next_event(*watching, sink);
      },
      [this](bool) { --streams_; });
  }

  /// Writes the next event (or a heartbeat) to `sink`; false ends the
  /// stream. When the node stops, `end` and the stream's end.
  bool next_event(admin_client& watching, httplib::DataSink& sink) {
    auto end = [&] {
      std::string last = "event: end\ndata: {}\n\n";
      sink.write(last.data(), last.size());
      sink.done();
      return true;
    };
    auto idle_since = std::chrono::steady_clock::now();
    while (!stopping_) {
      pollfd p{watching.fd(), POLLIN, 0};
      if (::poll(&p, 1, 250) > 0) {
        auto reply = watching.read_reply();
        if (!reply)
          return false;
        auto root = reply->root();
        if (root.which() == schema::Reply::END)
          return end();
        if (root.which() != schema::Reply::TIP)
          return false;
        auto event = "event: tip\ndata: " + tip_json(root.getTip()).dump()
                     + "\n\n";
        return sink.write(event.data(), event.size());
      }
      if (!sink.is_writable())
        return false;
      if (std::chrono::steady_clock::now() - idle_since > stream_heartbeat) {
        std::string beat = ": still here\n\n";
        return sink.write(beat.data(), beat.size());
      }
    }
    return end();
  }

  void serve_metrics(Response& res) {
    auto client = admin_client::connect(datadir_);
    if (!client)
      return refuse(res, client.error());
    auto st = client->status();
    if (!st)
      return refuse(res, st.error());
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::Request>().setPeers();
    auto peers = client->call(msg, schema::Reply::PEERS);
    if (!peers)
      return refuse(res, peers.error());
    res.set_content(metrics_text(st->root().getStatus(),
                                 peers->root().getPeers(), unix_seconds()),
                    "text/plain; version=0.0.4; charset=utf-8");
  }

  /// A file of the status page (the route's pattern admits only plain
  /// names: no path leaves the folder).
  void serve_file(const std::string& name, Response& res) {
    if (web_dir_.empty())
      return refuse(res, 404, "not_found",
                    "the status page's files are not installed (set "
                    "HALLMARK_WEB_DIR to the folder holding index.html)");
    std::ifstream in{web_dir_ + "/" + name, std::ios::binary};
    if (!in)
      return refuse(res, 404, "not_found", "no such file: /web/" + name);
    std::string body{std::istreambuf_iterator<char>{in}, {}};
    auto ext = fs::path{name}.extension().string();
    auto type = ext == ".html"  ? "text/html; charset=utf-8"
                : ext == ".css" ? "text/css; charset=utf-8"
                : ext == ".js"  ? "text/javascript; charset=utf-8"
                : ext == ".svg" ? "image/svg+xml"
                                : "image/png";
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::move(body), type);
  }

  std::string datadir_;
  std::string host_;
  uint16_t port_;
  std::string token_;
  bool token_required_;
  uint64_t threads_;
  int64_t max_streams_;
  rate_limiter limiter_;
  std::string web_dir_;
  std::atomic<int64_t> streams_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false}; ///< no worker runs: the server returned
  httplib::Server server_;
  std::thread thread_;
};

} // namespace

std::string find_web_dir() {
  auto holds_page = [](const fs::path& dir) {
    std::error_code fe;
    return fs::exists(dir / "index.html", fe);
  };
  if (auto* env = std::getenv("HALLMARK_WEB_DIR"); env && *env)
    return holds_page(env) ? std::string{env} : std::string{};
  std::error_code fe;
  auto exe = fs::read_symlink("/proc/self/exe", fe);
  if (fe)
    return {};
  for (auto dir : {exe.parent_path() / ".." / "share" / "hallmark" / "web",
                   exe.parent_path() / ".." / "web"})
    if (holds_page(dir))
      return fs::weakly_canonical(dir, fe).string();
  return {};
}

caf::expected<std::unique_ptr<node_service>>
make_http_server(const node_config& cfg) {
  if (cfg.http_listen.empty())
    return std::unique_ptr<node_service>{};
  auto where = parse_listener(cfg.http_listen);
  if (!where)
    return make_error(ec::bad_config,
                      "cannot parse http_listen '" + cfg.http_listen + "'");
  auto token = ensure_cookie(cfg.cookie_path());
  if (!token)
    return token.error();
  // The one name taken: it is loopback by definition, and binds as such.
  auto host = where->first == "localhost" ? "127.0.0.1" : where->first;
  auto server = std::make_unique<http_server>(cfg, host, where->second,
                                              std::move(*token));
  if (auto err = server->bind())
    return err;
  return std::unique_ptr<node_service>{std::move(server)};
}

} // namespace hallmark
