#include "node/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pbft::node {
namespace {

TEST(Histogram, CountsEachValueInTheFirstBucketWhoseBoundIsNotBelowIt) {
  Histogram h({1, 5, 10});
  for (double v : {0.5, 1.0, 3.0, 5.0, 7.0, 11.0, 100.0}) h.observe(v);
  EXPECT_EQ(h.bucket_counts(), (std::vector<uint64_t>{2, 2, 1, 2}));
  EXPECT_EQ(h.count(), 7u);
  EXPECT_DOUBLE_EQ(h.sum(), 127.5);
}

TEST(FormatValue, IntegersWithoutFractionAndSpecialValuesSpelledOut) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(0.00025), "0.00025");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(18446744073709551615.0), "1.8446744073709552e+19");
}

TEST(EscapeLabelValue, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value("plain /api/v1/kv"), "plain /api/v1/kv");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(PromWriter, WritesHelpAndTypeOnceThenTheSamples) {
  PromWriter w;
  w.family("pbft_http_requests_total", PromWriter::Type::counter, "HTTP requests answered.");
  w.sample("pbft_http_requests_total", {{"route", "/api/v1/kv"}, {"status", "200"}}, 3);
  w.sample("pbft_http_requests_total", {{"route", "/api/v1/kv"}, {"status", "503"}}, 1);
  w.single("pbft_view", PromWriter::Type::gauge, "Current view.", 2);
  EXPECT_EQ(w.text(),
            "# HELP pbft_http_requests_total HTTP requests answered.\n"
            "# TYPE pbft_http_requests_total counter\n"
            "pbft_http_requests_total{route=\"/api/v1/kv\",status=\"200\"} 3\n"
            "pbft_http_requests_total{route=\"/api/v1/kv\",status=\"503\"} 1\n"
            "# HELP pbft_view Current view.\n"
            "# TYPE pbft_view gauge\n"
            "pbft_view 2\n");
}

TEST(PromWriter, HistogramBucketsAreCumulativeAndEndWithInf) {
  Histogram h({0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(0.005);
  h.observe(3);
  PromWriter w;
  w.histogram("pbft_commit_latency_seconds", "Commit latency.", h, {{"op", "put"}});
  EXPECT_EQ(w.text(),
            "# HELP pbft_commit_latency_seconds Commit latency.\n"
            "# TYPE pbft_commit_latency_seconds histogram\n"
            "pbft_commit_latency_seconds_bucket{op=\"put\",le=\"0.001\"} 1\n"
            "pbft_commit_latency_seconds_bucket{op=\"put\",le=\"0.01\"} 3\n"
            "pbft_commit_latency_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
            "pbft_commit_latency_seconds_sum{op=\"put\"} 3.0105\n"
            "pbft_commit_latency_seconds_count{op=\"put\"} 4\n");
}

TEST(PromWriter, HelpTextIsEscaped) {
  PromWriter w;
  w.single("x", PromWriter::Type::counter, "line\\one\nline two", 1);
  EXPECT_EQ(w.text(), "# HELP x line\\\\one\\nline two\n# TYPE x counter\nx 1\n");
}

TEST(PromWriterDeathTest, AFamilyWrittenTwiceIsABug) {
  PromWriter w;
  w.single("x", PromWriter::Type::counter, "x", 1);
  EXPECT_DEATH(w.single("x", PromWriter::Type::counter, "x", 2), "twice");
}

}  // namespace
}  // namespace pbft::node
