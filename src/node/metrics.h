// Metrics of one kv-node and their Prometheus text exposition (format
// version 0.0.4): counters, gauges and histograms with fixed buckets.
//
// Histogram keeps per-bucket counts; the writer turns them into the
// cumulative `_bucket{le=...}` series, `_sum` and `_count`. PromWriter
// writes each family's HELP and TYPE once, escapes label values, and
// renders numbers the way Prometheus parses them (+Inf, integers without
// a fraction).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pbft::node {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Histogram {
 public:
  // bounds: strictly increasing upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // One count per bound, plus the last for values above every bound.
  const std::vector<uint64_t>& bucket_counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Buckets for latencies in seconds: 100 us .. 10 s.
std::vector<double> latency_buckets_s();
// Buckets for sizes: 1, 2, 4, ... 1024.
std::vector<double> size_buckets();

// `"` `\` and newline escaped as the exposition format asks.
std::string escape_label_value(std::string_view value);
// A sample value: integers as integers, +Inf/-Inf/NaN spelled out.
std::string format_value(double value);

class PromWriter {
 public:
  enum class Type { counter, gauge, histogram };
  // Starts a family; its samples follow. A name given twice is a bug.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  // A whole histogram family with one series (labels are added to each line).
  void histogram(std::string_view name, std::string_view help, const Histogram& h,
                 const Labels& labels = {});
  // One counter or gauge family with a single unlabelled sample.
  void single(std::string_view name, Type type, std::string_view help, double value);

  const std::string& text() const { return out_; }

 private:
  std::string out_;
  std::vector<std::string> families_;
};

}  // namespace pbft::node
