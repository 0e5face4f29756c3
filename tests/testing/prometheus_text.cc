#include "tests/testing/prometheus_text.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/net/socket.h"
#include "tests/testing/shell.h"

namespace socklab::testing {
namespace {

bool IsNameChar(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

// Reads a name at the front of `*rest` and removes it; empty when there is none.
std::string TakeName(absl::string_view* rest, bool colon) {
  size_t n = 0;
  while (n < rest->size() && IsNameChar((*rest)[n], n == 0, colon)) {
    ++n;
  }
  std::string name(rest->substr(0, n));
  rest->remove_prefix(n);
  return name;
}

bool ParseValue(absl::string_view text, double* value) {
  if (text == "+Inf" || text == "Inf") {
    *value = INFINITY;
    return true;
  }
  if (text == "-Inf") {
    *value = -INFINITY;
    return true;
  }
  if (text == "NaN") {
    *value = NAN;
    return true;
  }
  return !text.empty() && absl::SimpleAtod(text, value) && !absl::StrContains(text, "inf") &&
         !absl::StrContains(text, "nan");
}

absl::Status LineError(int line_number, absl::string_view line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line_number, " '", line, "': ", problem));
}

// The family a sample name belongs to, given the families declared so far.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (absl::EndsWith(name, suffix)) {
      const std::string base = name.substr(0, name.size() - suffix.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
        return base;
      }
    }
  }
  return name;
}

std::string SeriesKey(const std::string& name, const std::map<std::string, std::string>& labels) {
  std::string key = name;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&key, "|", k, "=", v);
  }
  return key;
}

absl::Status CheckHistograms(const PromScrape& scrape) {
  for (const auto& [family, type] : scrape.types) {
    if (type != "histogram") {
      continue;
    }
    // Per series (labels without le): buckets in the order written, sum and count.
    struct Series {
      std::vector<std::pair<double, double>> buckets;
      bool has_sum = false;
      double count = -1;
    };
    std::map<std::string, Series> series;
    for (const PromSample& s : scrape.samples) {
      std::map<std::string, std::string> labels = s.labels;
      labels.erase("le");
      const std::string key = SeriesKey("", labels);
      if (s.name == family + "_bucket") {
        auto le = s.labels.find("le");
        double bound = 0;
        if (le == s.labels.end() || !ParseValue(le->second, &bound)) {
          return absl::InvalidArgumentError(absl::StrCat(family, ": a bucket without a valid le"));
        }
        series[key].buckets.emplace_back(bound, s.value);
      } else if (s.name == family + "_sum") {
        series[key].has_sum = true;
      } else if (s.name == family + "_count") {
        series[key].count = s.value;
      }
    }
    if (series.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(family, ": a histogram without samples"));
    }
    for (const auto& [key, s] : series) {
      if (s.buckets.empty() || !std::isinf(s.buckets.back().first) || !s.has_sum || s.count < 0 ||
          s.buckets.back().second != s.count) {
        return absl::InvalidArgumentError(absl::StrCat(
            family, key, ": needs buckets ending in le=\"+Inf\" equal to _count, and a _sum"));
      }
      for (size_t i = 1; i < s.buckets.size(); ++i) {
        if (!(s.buckets[i].first > s.buckets[i - 1].first) ||
            s.buckets[i].second < s.buckets[i - 1].second) {
          return absl::InvalidArgumentError(
              absl::StrCat(family, key, ": buckets must ascend in le and in count"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

double PromScrape::Sum(absl::string_view name,
                       const std::map<std::string, std::string>& labels) const {
  double sum = 0;
  for (const PromSample& s : samples) {
    if (s.name != name) {
      continue;
    }
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) {
      sum += s.value;
    }
  }
  return sum;
}

int PromScrape::Count(absl::string_view name,
                      const std::map<std::string, std::string>& labels) const {
  int count = 0;
  for (const PromSample& s : samples) {
    bool match = s.name == name;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    count += match ? 1 : 0;
  }
  return count;
}

absl::StatusOr<PromScrape> ParsePrometheusText(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("the text does not end in a line feed");
  }
  PromScrape scrape;
  std::set<std::string> finished;  // families whose lines ended (another family's came)
  std::set<std::string> series;
  std::string current;  // the family whose lines are being read
  int line_number = 0;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  lines.pop_back();  // after the final line feed
  for (absl::string_view line : lines) {
    ++line_number;
    if (line.empty()) {
      continue;
    }
    if (absl::StrContains(line, '\r') || absl::StrContains(line, '\t')) {
      return LineError(line_number, line, "a carriage return or tab");
    }
    auto enter = [&](const std::string& family) -> absl::Status {
      if (family != current) {
        if (finished.count(family) > 0) {
          return LineError(line_number, line, "the family's lines are not together");
        }
        if (!current.empty()) {
          finished.insert(current);
        }
        current = family;
      }
      return absl::OkStatus();
    };
    if (line[0] == '#') {
      absl::string_view rest = line.substr(1);
      const bool help = absl::ConsumePrefix(&rest, " HELP ");
      const bool type = !help && absl::ConsumePrefix(&rest, " TYPE ");
      if (!help && !type) {
        continue;  // a comment
      }
      const std::string name = TakeName(&rest, /*colon=*/true);
      if (name.empty() || !absl::ConsumePrefix(&rest, " ")) {
        return LineError(line_number, line, "no valid metric name");
      }
      if (absl::Status entered = enter(name); !entered.ok()) {
        return entered;
      }
      if (help) {
        std::string unescaped;
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\') {
            if (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')) {
              return LineError(line_number, line, "a HELP escape other than \\\\ or \\n");
            }
            unescaped += rest[i + 1] == 'n' ? '\n' : '\\';
            ++i;
          } else {
            unescaped += rest[i];
          }
        }
        if (!scrape.help.emplace(name, unescaped).second) {
          return LineError(line_number, line, "a second HELP");
        }
      } else {
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (kTypes.count(std::string(rest)) == 0) {
          return LineError(line_number, line, "an unknown type");
        }
        if (scrape.types.count(name) > 0) {
          return LineError(line_number, line, "a second TYPE");
        }
        for (const PromSample& s : scrape.samples) {
          if (FamilyOf(s.name, {{name, std::string(rest)}}) == name) {
            return LineError(line_number, line, "TYPE after the family's samples");
          }
        }
        scrape.types.emplace(name, std::string(rest));
      }
      continue;
    }
    PromSample sample;
    absl::string_view rest = line;
    sample.name = TakeName(&rest, /*colon=*/true);
    if (sample.name.empty()) {
      return LineError(line_number, line, "no valid metric name");
    }
    if (absl::ConsumePrefix(&rest, "{")) {
      while (!absl::ConsumePrefix(&rest, "}")) {
        const std::string label = TakeName(&rest, /*colon=*/false);
        if (label.empty() || !absl::ConsumePrefix(&rest, "=\"")) {
          return LineError(line_number, line, "a label is not name=\"value\"");
        }
        std::string value;
        bool closed = false;
        while (!rest.empty()) {
          const char c = rest[0];
          rest.remove_prefix(1);
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (rest.empty() || (rest[0] != '\\' && rest[0] != '"' && rest[0] != 'n')) {
              return LineError(line_number, line, "a label escape other than \\\\ \\\" \\n");
            }
            value += rest[0] == 'n' ? '\n' : rest[0];
            rest.remove_prefix(1);
          } else {
            value += c;
          }
        }
        if (!closed) {
          return LineError(line_number, line, "an unterminated label value");
        }
        if (!sample.labels.emplace(label, value).second) {
          return LineError(line_number, line, "a label given twice");
        }
        if (!absl::ConsumePrefix(&rest, ",") && !absl::StartsWith(rest, "}")) {
          return LineError(line_number, line, "labels not separated by commas");
        }
      }
    }
    if (!absl::ConsumePrefix(&rest, " ")) {
      return LineError(line_number, line, "no space before the value");
    }
    std::vector<absl::string_view> fields = absl::StrSplit(rest, ' ');
    int64_t timestamp = 0;
    if (fields.size() > 2 || !ParseValue(fields[0], &sample.value) ||
        (fields.size() == 2 && !absl::SimpleAtoi(fields[1], &timestamp))) {
      return LineError(line_number, line, "not a value and an optional timestamp");
    }
    const std::string family = FamilyOf(sample.name, scrape.types);
    auto type = scrape.types.find(family);
    if (type == scrape.types.end() || scrape.help.count(family) == 0) {
      return LineError(line_number, line, "a sample without its family's HELP and TYPE");
    }
    if (absl::Status entered = enter(family); !entered.ok()) {
      return entered;
    }
    if (type->second == "counter" &&
        (!absl::EndsWith(sample.name, "_total") || !(sample.value >= 0))) {
      return LineError(line_number, line, "a counter must end in _total and be >= 0");
    }
    if (type->second == "histogram" && sample.name == family) {
      return LineError(line_number, line, "a histogram sample without _bucket/_sum/_count");
    }
    if (!series.insert(SeriesKey(sample.name, sample.labels)).second) {
      return LineError(line_number, line, "a series given twice");
    }
    scrape.samples.push_back(std::move(sample));
  }
  if (absl::Status histograms = CheckHistograms(scrape); !histograms.ok()) {
    return histograms;
  }
  return scrape;
}

bool PromtoolInstalled() { return access("/usr/bin/promtool", X_OK) == 0; }

std::string PromtoolComplaint(const std::string& text) {
  if (!PromtoolInstalled()) {
    return "promtool not installed";
  }
  char path[] = "/tmp/socklab-metrics-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    return "mkstemp failed";
  }
  close(fd);
  std::ofstream(path) << text;
  const std::string command = absl::StrCat("/usr/bin/promtool check metrics < ", path, " 2>&1");
  const ShellRun run = RunShell(command);
  unlink(path);
  // promtool exits 0 when the text parses and every lint passes; its lints print and exit 3.
  return run.exit_code == 0 ? "" : absl::StrCat("promtool: ", run.out.empty() ? "failed" : run.out);
}

absl::StatusOr<std::string> HttpGet(const SocketAddress& address, absl::string_view path,
                                    absl::string_view method) {
  absl::StatusOr<UniqueFd> fd = ConnectTcp(address);
  if (!fd.ok()) {
    return fd.status();
  }
  timeval timeout{10, 0};
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", address.ToString(),
                   "\r\nAccept: text/plain\r\n\r\n");
  ssize_t sent = -1;
  do {
    sent = send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(request.size())) {
    return ErrnoError(errno, "send the request");
  }
  std::string response;
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd->get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) {
      continue;  // SIGCHLD of a child process the suite started
    }
    if (n < 0) {
      return ErrnoError(errno, "recv the response");
    }
    if (n == 0) {
      return response;
    }
    response.append(buffer, static_cast<size_t>(n));
  }
}

std::string HttpBody(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

int HttpStatus(const std::string& response) {
  // "HTTP/1.1 200 OK"
  int code = 0;
  const size_t space = response.find(' ');
  if (space == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(response).substr(space + 1, 3), &code)) {
    return 0;
  }
  return code;
}

std::string HttpHeader(const std::string& response, absl::string_view name) {
  const std::string head = response.substr(0, response.find("\r\n\r\n"));
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos && absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

}  // namespace socklab::testing
