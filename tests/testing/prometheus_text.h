#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/net/address.h"

namespace socklab::testing {

// One sample of a scrape: metric name, labels, value.
struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A scrape parsed by ParsePrometheusText.
struct PromScrape {
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram | ...
  std::map<std::string, std::string> help;   // family -> its HELP text (unescaped)
  std::vector<PromSample> samples;

  // The sum of the samples named `name` whose labels include all of `labels`; 0 when none.
  double Sum(absl::string_view name, const std::map<std::string, std::string>& labels = {}) const;
  // How many samples are named `name` and include all of `labels`.
  int Count(absl::string_view name, const std::map<std::string, std::string>& labels = {}) const;
};

// The text exposition format 0.0.4, read strictly (stricter than Prometheus itself): every line
// ends in "\n"; each family has exactly one HELP and one TYPE before its samples, and its lines
// together; names and label names are valid, label values use only the \\ \" \n escapes, no
// label repeats, no series repeats; a counter's samples end in _total and are >= 0; a
// histogram's series each have ascending "le" buckets with non-decreasing counts, a "+Inf"
// bucket equal to its _count, and a _sum. The error names the line.
absl::StatusOr<PromScrape> ParsePrometheusText(absl::string_view text);

// What promtool (Debian's prometheus package) says of `text` with `promtool check metrics`:
// empty when it is satisfied, its complaint otherwise, "promtool not installed" when it is absent.
std::string PromtoolComplaint(const std::string& text);
bool PromtoolInstalled();

// A plain HTTP/1.1 GET over a fresh TCP connection; the whole response (status line, headers,
// body) as the server sent it until it closed. Bounded by a 10 s receive timeout.
absl::StatusOr<std::string> HttpGet(const SocketAddress& address, absl::string_view path,
                                    absl::string_view method = "GET");
// The body of a response (after the blank line), and its status code.
std::string HttpBody(const std::string& response);
int HttpStatus(const std::string& response);
// A header's value ("Content-Type"), case-insensitively; empty when absent.
std::string HttpHeader(const std::string& response, absl::string_view name);

}  // namespace socklab::testing
