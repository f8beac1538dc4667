#include "node/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/assert.h"

namespace pbft::node {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  PBFT_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()) &&
                  std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end(),
              "histogram bounds must be strictly increasing");
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[i];
  sum_ += value;
  ++count_;
}

std::vector<double> latency_buckets_s() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

std::vector<double> size_buckets() {
  std::vector<double> b;
  for (double v = 1; v <= 1024; v *= 2) b.push_back(v);
  return b;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return std::to_string(static_cast<long long>(value));
  }
  // The shortest form that reads back as the same double.
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

namespace {

const char* type_name(PromWriter::Type t) {
  switch (t) {
    case PromWriter::Type::counter: return "counter";
    case PromWriter::Type::gauge: return "gauge";
    case PromWriter::Type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void PromWriter::family(std::string_view name, Type type, std::string_view help) {
  PBFT_ASSERT(std::find(families_.begin(), families_.end(), name) == families_.end(),
              "metric family written twice");
  families_.emplace_back(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) {
    if (c == '\\') out_ += "\\\\";
    else if (c == '\n') out_ += "\\n";
    else out_ += c;
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void PromWriter::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      out_ += escape_label_value(labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void PromWriter::histogram(std::string_view name, std::string_view help, const Histogram& h,
                           const Labels& labels) {
  family(name, Type::histogram, help);
  const std::string base(name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.bucket_counts()[i];
    Labels l = labels;
    l.emplace_back("le", i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf");
    sample(base + "_bucket", l, static_cast<double>(cumulative));
  }
  sample(base + "_sum", labels, h.sum());
  sample(base + "_count", labels, static_cast<double>(h.count()));
}

void PromWriter::single(std::string_view name, Type type, std::string_view help, double value) {
  family(name, type, help);
  sample(name, value);
}

}  // namespace pbft::node
