#include "http/metrics.hpp"

#include <unistd.h>

#include <fstream>
#include <map>

#include <fmt/format.h>

#include "core/metrics.hpp"

namespace hallmark {

namespace {

/// Appends metric families to one exposition.
class exposition {
public:
  /// `# HELP` and `# TYPE` of a family.
  void family(const char* name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }

  /// One sample; `labels` already in `{k="v"}` form, or "".
  void sample(const std::string& name, double value,
              const std::string& labels = "") {
    out_ += fmt::format("{}{} {}\n", name, labels, value);
  }

  void gauge(const char* name, const char* help, double value) {
    family(name, "gauge", help);
    sample(name, value);
  }

  void counter(const char* name, const char* help, uint64_t value) {
    family(name, "counter", help);
    sample(name, static_cast<double>(value));
  }

  void histogram(const char* name, const char* help,
                 const metrics::histogram& h) {
    family(name, "histogram", help);
    // Read once: the count is the +Inf bucket, so the buckets never exceed
    // it even while observations arrive.
    auto count = h.count();
    for (size_t i = 0; i < metrics::histogram::bounds.size(); ++i)
      sample(std::string{name} + "_bucket",
             static_cast<double>(std::min(h.cumulative(i), count)),
             fmt::format("{{le=\"{}\"}}", metrics::histogram::bounds[i]));
    sample(std::string{name} + "_bucket", static_cast<double>(count),
           "{le=\"+Inf\"}");
    sample(std::string{name} + "_sum", h.sum());
    sample(std::string{name} + "_count", static_cast<double>(count));
  }

  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

/// A label value with `\`, `"` and newlines escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// This process's resident memory in bytes (/proc/self/statm), 0 if unread.
double resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  uint64_t size = 0;
  uint64_t resident = 0;
  if (!(statm >> size >> resident))
    return 0;
  return static_cast<double>(resident)
         * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

} // namespace

std::string metrics_text(schema::Status::Reader status,
                         capnp::List<schema::PeerInfo>::Reader peers,
                         uint64_t now) {
  exposition x;
  x.family("hallmark_info", "gauge",
           "The node's chain and version, as labels; always 1");
  x.sample("hallmark_info", 1,
           fmt::format("{{chain=\"{}\",version=\"{}\"}}",
                       label_value(status.getChain().cStr()),
                       label_value(status.getVersion().cStr())));
  x.gauge("hallmark_height", "Height of the tip",
          static_cast<double>(status.getHeight()));
  x.gauge("hallmark_tip_timestamp_seconds", "The tip's timestamp, unix time",
          static_cast<double>(status.getTipTimestamp()));
  auto tip_time = status.getTipTimestamp();
  x.gauge("hallmark_tip_age_seconds",
          "Seconds since the tip's timestamp (0 if it is ahead of this "
          "node's clock)",
          static_cast<double>(now > tip_time ? now - tip_time : 0));
  x.gauge("hallmark_sync_target_height", "The best height peers claim",
          static_cast<double>(status.getSyncTarget()));
  x.gauge("hallmark_pending_records",
          "Entries in the pool (the reservoir), waiting for a block; a "
          "batch of issues is one",
          static_cast<double>(status.getPendingRecords()));
  x.family("hallmark_pool_records", "gauge",
           "Records in the pool by kind, each issue of a batch counted");
  x.sample("hallmark_pool_records",
           static_cast<double>(status.getPendingAssets()), "{kind=\"asset\"}");
  x.sample("hallmark_pool_records",
           static_cast<double>(status.getPendingIssues()), "{kind=\"issue\"}");
  x.sample("hallmark_pool_records",
           static_cast<double>(status.getPendingTransfers()),
           "{kind=\"transfer\"}");
  x.gauge("hallmark_producing", "1 if this node produces blocks",
          status.getProducing() ? 1 : 0);

  // Every link state is always present, so a rate or a sum never sees a
  // series vanish.
  std::map<std::string, uint64_t> links{
    {"up", 0}, {"connecting", 0}, {"down", 0}, {"banned", 0}};
  for (auto p : peers)
    ++links[p.getLink().cStr()];
  x.family("hallmark_peers", "gauge", "Known peers by the state of the link");
  for (auto& [link, n] : links)
    x.sample("hallmark_peers", static_cast<double>(n),
             fmt::format("{{link=\"{}\"}}", label_value(link)));

  bool syncing = status.hasBlockSync();
  x.gauge("hallmark_block_sync_active", "1 while a block sync runs",
          syncing ? 1 : 0);
  x.gauge("hallmark_block_sync_records_per_second",
          "Records a block sync applies per second (0: none runs)",
          syncing
            ? static_cast<double>(status.getBlockSync().getRecordsPerSecond())
            : 0);
  x.gauge("hallmark_block_sync_target_height",
          "The height a block sync fetches to (0: none runs)",
          syncing ? static_cast<double>(status.getBlockSync().getTargetHeight())
                  : 0);
  bool state_syncing = status.hasStateSync();
  auto ss = status.getStateSync();
  x.gauge("hallmark_state_sync_active", "1 while a state sync runs or ran",
          state_syncing ? 1 : 0);
  x.gauge("hallmark_state_sync_keys", "Key/values a state sync holds",
          state_syncing ? static_cast<double>(ss.getKeys()) : 0);
  x.gauge("hallmark_state_sync_ranges_done",
          "Key ranges a state sync holds at its target root",
          state_syncing ? static_cast<double>(ss.getRangesDone()) : 0);
  x.gauge("hallmark_state_sync_ranges_left",
          "Key ranges a state sync still waits for",
          state_syncing ? static_cast<double>(ss.getRangesLeft()) : 0);
  x.gauge("hallmark_state_sync_received_bytes",
          "Proof bytes a state sync received",
          state_syncing ? static_cast<double>(ss.getBytes()) : 0);

  auto& m = metrics::node();
  x.counter("hallmark_peer_received_bytes_total", "Bytes read from peer links",
            m.peer_bytes_in.value());
  x.counter("hallmark_peer_sent_bytes_total", "Bytes written to peer links",
            m.peer_bytes_out.value());
  x.counter("hallmark_blocks_applied_total",
            "Blocks committed to the chain's store", m.blocks_applied.value());
  x.counter("hallmark_records_applied_total", "Records in those blocks",
            m.records_applied.value());
  x.counter("hallmark_blocks_unwound_total", "Blocks unwound by reorgs",
            m.blocks_unwound.value());
  x.counter("hallmark_peer_charges_total", "Misbehaviour charges against peers",
            m.peer_charges.value());
  x.counter("hallmark_peer_bans_total", "Peers banned", m.peer_bans.value());
  x.counter("hallmark_http_requests_total", "HTTP requests answered",
            m.http_requests.value());
  x.counter("hallmark_http_refused_total",
            "HTTP requests answered with a 4xx or 5xx status",
            m.http_refused.value());
  x.counter("hallmark_requests_late_total",
            "Requests between the node's parts, or to peers, that got no "
            "answer before their deadline",
            m.requests_late.value());
  x.histogram("hallmark_flush_duration_seconds",
              "Time one commit of the chain's store took", m.flush_seconds);
  x.histogram("hallmark_verify_duration_seconds",
              "Time one verify job (a share of a batch of blocks) took",
              m.verify_seconds);
  x.gauge("process_resident_memory_bytes", "Resident memory of the process",
          resident_bytes());
  return x.take();
}

} // namespace hallmark
