#include "client/report/report_html.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_report.h"
#include "client/load/repeat_summary.h"
#include "client/report/svg_chart.h"
#include "core/base/status.h"
#include "core/base/units.h"

namespace socklab::client {
namespace {

// Run colours (one per run when several are overlaid), and within one run one per figure.
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
std::string Color(size_t i) { return kColors[i % (sizeof(kColors) / sizeof(kColors[0]))]; }

// Within one of several runs, the figures of a chart are told apart by dash pattern.
constexpr const char* kDashes[] = {"", "6 3", "2 3", "10 3 2 3"};
std::string Dash(size_t i) { return kDashes[i % (sizeof(kDashes) / sizeof(kDashes[0]))]; }

double Number(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

// One figure of every second of a run, as chart points (x: seconds since the start).
std::vector<std::pair<double, double>> SeriesOf(const nlohmann::json& run,
                                                double (*value)(const nlohmann::json&)) {
  std::vector<std::pair<double, double>> points;
  for (const nlohmann::json& second : run["series"]) {
    points.emplace_back(Number(second, "t_s"), value(second));
  }
  return points;
}

// A figure drawn for each run: one line per (run, figure). With one run the figures take the
// colours; with several the runs do and the figures take dash patterns.
struct Figure {
  std::string name;
  double (*value)(const nlohmann::json&);
};

std::vector<ChartLine> LinesOf(const std::vector<ReportRun>& runs,
                               const std::vector<Figure>& figures) {
  std::vector<ChartLine> lines;
  for (size_t r = 0; r < runs.size(); ++r) {
    for (size_t f = 0; f < figures.size(); ++f) {
      ChartLine line;
      if (runs.size() == 1) {
        line.name = figures[f].name;
        line.color = Color(f);
      } else {
        line.name =
            figures.size() == 1 ? runs[r].name : absl::StrCat(runs[r].name, " ", figures[f].name);
        line.color = Color(r);
        line.dash = Dash(f);
      }
      line.points = SeriesOf(runs[r].json, figures[f].value);
      lines.push_back(std::move(line));
    }
  }
  return lines;
}

// Per-second lines of a keyed object of each second ("errors_by_class", "states"): one line per
// key that is non-zero in some second, zero where a second lacks it.
std::vector<ChartLine> KeyedLines(const std::vector<ReportRun>& runs, const char* field) {
  std::vector<ChartLine> lines;
  for (size_t r = 0; r < runs.size(); ++r) {
    std::vector<std::string> keys;
    for (const nlohmann::json& second : runs[r].json["series"]) {
      auto it = second.find(field);
      if (it == second.end() || !it->is_object()) continue;
      for (const auto& [key, count] : it->items()) {
        if (count.is_number() && count.get<double>() > 0 &&
            std::find(keys.begin(), keys.end(), key) == keys.end()) {
          keys.push_back(key);
        }
      }
    }
    for (size_t k = 0; k < keys.size(); ++k) {
      ChartLine line;
      line.name = runs.size() == 1 ? keys[k] : absl::StrCat(runs[r].name, " ", keys[k]);
      line.color = runs.size() == 1 ? Color(k) : Color(r);
      line.dash = runs.size() == 1 ? "" : Dash(k);
      for (const nlohmann::json& second : runs[r].json["series"]) {
        auto it = second.find(field);
        if (it == second.end() || !it->is_object()) continue;  // a failed sample: unknown
        line.points.emplace_back(Number(second, "t_s"), Number(*it, keys[k].c_str()));
      }
      lines.push_back(std::move(line));
    }
  }
  return lines;
}

// The percentile spectrum lines: corrected (and, in open loop, uncorrected) per run. The 100%
// row cannot be placed on a 1/(1-p) axis and is left out, as HdrHistogram's plotter does.
std::vector<ChartLine> SpectrumLines(const std::vector<ReportRun>& runs) {
  std::vector<ChartLine> lines;
  for (size_t r = 0; r < runs.size(); ++r) {
    const nlohmann::json& spectrum = runs[r].json.value("latency_spectrum", nlohmann::json());
    if (!spectrum.is_object()) continue;
    int f = 0;
    for (const char* kind : {"corrected", "uncorrected"}) {
      auto it = spectrum.find(kind);
      if (it == spectrum.end() || !it->is_array()) continue;
      ChartLine line;
      const std::string label = runs[r].json["config"].value("mode", "") == "open"
                                    ? std::string(kind)
                                    : std::string("latency");
      line.name = runs.size() == 1 ? label : absl::StrCat(runs[r].name, " ", label);
      line.color = runs.size() == 1 ? Color(f) : Color(r);
      line.dash = runs.size() == 1 ? "" : Dash(f);
      for (const nlohmann::json& row : *it) {
        if (row.is_array() && row.size() >= 2 && row[1].get<double>() < 100) {
          line.points.emplace_back(row[1].get<double>(), row[0].get<double>());
        }
      }
      lines.push_back(std::move(line));
      ++f;
    }
  }
  return lines;
}

std::string Chart(ChartSpec spec, const std::vector<ChartLine>& lines) {
  return absl::StrCat("<figure>", RenderLineChart(spec, lines), "</figure>\n");
}

std::string Latency(double ns) { return FormatLatency(static_cast<int64_t>(std::llround(ns))); }

// One row of the figures table: a name, how to read it from a run's JSON, how to write it.
struct Row {
  std::string name;
  double (*value)(const nlohmann::json&);
  bool latency;
};

std::string Cell(double v, bool latency) {
  return latency ? Latency(v) : absl::StrFormat("%.6g", v);
}

std::string FiguresTable(const std::vector<ReportRun>& runs) {
  static const Row kRows[] = {
      {"throughput (msg/s)",
       [](const nlohmann::json& j) { return Number(j["throughput"], "messages_per_s"); }, false},
      {"messages completed",
       [](const nlohmann::json& j) { return Number(j["messages"], "completed"); }, false},
      {"messages failed", [](const nlohmann::json& j) { return Number(j["messages"], "failed"); },
       false},
      {"errors", [](const nlohmann::json& j) { return Number(j["errors"], "total"); }, false},
      {"latency p50", [](const nlohmann::json& j) { return Number(j["latency_ns"], "p50"); }, true},
      {"latency p90", [](const nlohmann::json& j) { return Number(j["latency_ns"], "p90"); }, true},
      {"latency p99", [](const nlohmann::json& j) { return Number(j["latency_ns"], "p99"); }, true},
      {"latency p99.9", [](const nlohmann::json& j) { return Number(j["latency_ns"], "p99_9"); },
       true},
      {"latency p99.99", [](const nlohmann::json& j) { return Number(j["latency_ns"], "p99_99"); },
       true},
      {"latency max", [](const nlohmann::json& j) { return Number(j["latency_ns"], "max"); }, true},
      {"uncorrected p99 (open loop)",
       [](const nlohmann::json& j) { return Number(j["latency_uncorrected_ns"], "p99"); }, true},
      {"connect p50",
       [](const nlohmann::json& j) { return Number(j["connect_latency_ns"], "p50"); }, true},
      {"connect p99",
       [](const nlohmann::json& j) { return Number(j["connect_latency_ns"], "p99"); }, true},
      {"connections opened",
       [](const nlohmann::json& j) { return Number(j["connections"], "opened"); }, false},
      {"peak open connections",
       [](const nlohmann::json& j) { return Number(j["connections"], "peak_open"); }, false},
      {"client cpu (s)",
       [](const nlohmann::json& j) {
         return Number(j["client_cpu"], "user_s") + Number(j["client_cpu"], "system_s");
       },
       false},
      {"measured (s)", [](const nlohmann::json& j) { return Number(j, "elapsed_s"); }, false},
  };
  std::string out = "<table class=\"figures\"><tr><th></th>";
  for (size_t r = 0; r < runs.size(); ++r) {
    absl::StrAppend(&out, "<th>", HtmlEscape(runs[r].name), "</th>");
    if (r > 0) absl::StrAppend(&out, "<th>ratio to ", HtmlEscape(runs[0].name), "</th>");
  }
  absl::StrAppend(&out, "</tr>\n");
  for (const Row& row : kRows) {
    bool any = false;
    for (const ReportRun& run : runs) any = any || row.value(run.json) != 0;
    if (!any) continue;
    absl::StrAppend(&out, "<tr><td>", HtmlEscape(row.name), "</td>");
    const double first = row.value(runs[0].json);
    for (size_t r = 0; r < runs.size(); ++r) {
      const double v = row.value(runs[r].json);
      // A latency of 0 is a figure the run did not measure (closed loop has no uncorrected).
      const bool absent = row.latency && v == 0;
      absl::StrAppend(&out, "<td>", absent ? "&ndash;" : HtmlEscape(Cell(v, row.latency)), "</td>");
      if (r > 0) {
        absl::StrAppend(
            &out, "<td class=\"ratio\">",
            first != 0 && !absent ? absl::StrFormat("%.2f&times;", v / first) : "&ndash;", "</td>");
      }
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");
  return out;
}

// Runs made with --repeat: each figure's median [min - max] over the repetitions, and the ratio
// of medians to the first run's, said to be within the noise when the two spreads overlap.
std::string RepeatTable(const std::vector<ReportRun>& runs) {
  bool any = false;
  for (const ReportRun& run : runs) any = any || run.json.contains("repeat");
  if (!any) return "";
  std::string out =
      "<h3>repeated runs (--repeat): median [min &ndash; max] over the repetitions</h3>"
      "<table class=\"figures\"><tr><th></th>";
  for (size_t r = 0; r < runs.size(); ++r) {
    const nlohmann::json& repeat = runs[r].json.value("repeat", nlohmann::json());
    absl::StrAppend(&out, "<th>", HtmlEscape(runs[r].name),
                    repeat.is_object() ? absl::StrCat(" (", Number(repeat, "runs"), " runs)") : "",
                    "</th>");
    if (r > 0) absl::StrAppend(&out, "<th>ratio to ", HtmlEscape(runs[0].name), "</th>");
  }
  absl::StrAppend(&out, "</tr>\n");
  for (const RepeatFigureKind& kind : RepeatFigureKinds()) {
    const char* figure = kind.key;
    auto write = [&](double v) { return kind.latency ? Latency(v) : absl::StrFormat("%.0f", v); };
    absl::StrAppend(&out, "<tr><td>", kind.label, "</td>");
    const nlohmann::json first = runs[0]
                                     .json.value("repeat", nlohmann::json::object())
                                     .value("figures", nlohmann::json::object())
                                     .value(figure, nlohmann::json());
    for (size_t r = 0; r < runs.size(); ++r) {
      const nlohmann::json f = runs[r]
                                   .json.value("repeat", nlohmann::json::object())
                                   .value("figures", nlohmann::json::object())
                                   .value(figure, nlohmann::json());
      if (!f.is_object()) {
        absl::StrAppend(&out, "<td>&ndash;</td>", r > 0 ? "<td>&ndash;</td>" : "");
        continue;
      }
      absl::StrAppend(&out, "<td>", HtmlEscape(write(Number(f, "median"))), " [",
                      HtmlEscape(write(Number(f, "min"))), " &ndash; ",
                      HtmlEscape(write(Number(f, "max"))), "]</td>");
      if (r == 0) continue;
      if (!first.is_object() || Number(first, "median") == 0) {
        absl::StrAppend(&out, "<td>&ndash;</td>");
        continue;
      }
      const bool overlap =
          Number(f, "min") <= Number(first, "max") && Number(first, "min") <= Number(f, "max");
      absl::StrAppendFormat(&out, "<td class=\"ratio\">%.2f&times;%s</td>",
                            Number(f, "median") / Number(first, "median"),
                            overlap ? " <span class=\"warn\">within the spread: noise, not a "
                                      "difference</span>"
                                    : "");
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");
  return out;
}

// Runs made with --sweep: one row per value, the knee marked, and throughput and p99 against
// the value.
std::string SweepSection(const ReportRun& run) {
  const nlohmann::json& sweep = run.json.value("sweep", nlohmann::json());
  if (!sweep.is_object() || !sweep.contains("points")) return "";
  const std::string parameter = sweep.value("parameter", "value");
  const nlohmann::json& knee = sweep.value("knee", nlohmann::json());
  const int knee_index = knee.is_object() ? knee.value("index", -1) : -1;
  std::string out = absl::StrCat("<h2>sweep of ", HtmlEscape(parameter), " (", HtmlEscape(run.name),
                                 ")</h2>\n<p", knee_index >= 0 ? " class=\"warn\"" : "", ">knee: ");
  if (knee_index >= 0) {
    absl::StrAppend(&out, HtmlEscape(parameter), "=",
                    absl::StrFormat("%.10g", Number(knee, "value")), ": ",
                    HtmlEscape(knee.value("why", "")));
  } else {
    absl::StrAppend(&out, "none in the values swept");
  }
  absl::StrAppend(&out, "</p>\n<table class=\"figures\"><tr><th>", HtmlEscape(parameter),
                  "</th><th>msg/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>errors</th>"
                  "<th>sent of schedule</th></tr>\n");
  ChartLine throughput{"msg/s", Color(0), "", {}};
  ChartLine p99{"p99", Color(1), "", {}};
  int index = 0;
  for (const nlohmann::json& point : sweep["points"]) {
    const double value = Number(point, "value");
    absl::StrAppendFormat(&out,
                          "<tr%s><td>%.10g</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td>"
                          "<td>%.0f</td><td>%.1f%%</td></tr>\n",
                          index == knee_index ? " class=\"warn\"" : "", value,
                          Number(point, "messages_per_s"), Latency(Number(point, "p50_ns")),
                          Latency(Number(point, "p99_ns")), Latency(Number(point, "p99_9_ns")),
                          Number(point, "errors"), 100 * Number(point, "achieved_ratio"));
    throughput.points.emplace_back(value, Number(point, "messages_per_s"));
    p99.points.emplace_back(value, Number(point, "p99_ns"));
    ++index;
  }
  absl::StrAppend(&out, "</table>\n");
  ChartSpec spec;
  spec.x_label = absl::StrCat(parameter, " (log)");
  spec.x_scale = AxisScale::kLog10;
  spec.title = absl::StrCat("throughput by ", parameter);
  spec.y_label = "msg/s";
  out += Chart(spec, {throughput});
  spec.title = absl::StrCat("p99 latency by ", parameter);
  spec.y_label = "p99 (log)";
  spec.y_scale = AxisScale::kLog10;
  spec.y_is_latency_ns = true;
  out += Chart(spec, {p99});
  return out;
}

std::string ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A key/value table of an object's non-empty members (arrays of strings one per line).
std::string KeyValueTable(const nlohmann::json& object) {
  std::string out = "<table class=\"kv\">";
  for (const auto& [key, value] : object.items()) {
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty()) ||
        (value.is_array() && value.empty())) {
      continue;
    }
    std::string text;
    if (value.is_array() && !value.empty() && value[0].is_string()) {
      for (const nlohmann::json& line : value) {
        absl::StrAppend(&text, text.empty() ? "" : "<br>", HtmlEscape(ScalarText(line)));
      }
    } else {
      text = HtmlEscape(ScalarText(value));
    }
    absl::StrAppend(&out, "<tr><td>", HtmlEscape(key), "</td><td>", text, "</td></tr>");
  }
  absl::StrAppend(&out, "</table>\n");
  return out;
}

std::string RunDetails(const ReportRun& run) {
  const nlohmann::json& j = run.json;
  std::string out = absl::StrCat("<section class=\"run\"><h2>", HtmlEscape(run.name), "</h2>\n");
  if (j.value("aborted", false)) {
    absl::StrAppend(&out, "<p class=\"warn\">aborted: ", HtmlEscape(j.value("abort_reason", "")),
                    "</p>\n");
  }
  if (const nlohmann::json& open = j.value("open_loop", nlohmann::json()); open.is_object()) {
    absl::StrAppendFormat(
        &out, "<p%s>schedule: %.0f messages scheduled, %.0f sent (%.1f%%)%s</p>\n",
        open.value("reached", true) ? "" : " class=\"warn\"", Number(open, "scheduled"),
        Number(open, "sent"), 100 * Number(open, "achieved_ratio"),
        open.value("reached", true) ? "" : ": the rate asked for was NOT reached");
  }
  absl::StrAppend(&out, "<h3>configuration</h3>", KeyValueTable(j["config"]));
  absl::StrAppend(&out, "<h3>machine</h3>",
                  KeyValueTable(j.value("machine", nlohmann::json::object())));
  const nlohmann::json& errors = j.value("errors", nlohmann::json::object());
  absl::StrAppend(&out, "<h3>errors</h3>");
  const nlohmann::json& cells = errors.value("by_class", nlohmann::json::array());
  if (cells.empty()) {
    absl::StrAppend(&out, "<p>none</p>\n");
  } else {
    absl::StrAppend(&out,
                    "<table><tr><th>phase</th><th>error</th><th>count</th><th>first at</th></tr>");
    for (const nlohmann::json& cell : cells) {
      const nlohmann::json first = cell.value("first_seen_s", nlohmann::json());
      absl::StrAppend(&out, "<tr><td>", HtmlEscape(cell.value("phase", "")), "</td><td>",
                      HtmlEscape(ScalarText(cell.value("errno", nlohmann::json("")))), "</td><td>",
                      HtmlEscape(ScalarText(cell.value("count", nlohmann::json(0)))), "</td><td>",
                      first.is_number() ? absl::StrFormat("%.3fs", first.get<double>()) : "",
                      "</td></tr>");
    }
    absl::StrAppend(&out, "</table>\n");
  }
  for (const nlohmann::json& hint : errors.value("hints", nlohmann::json::array())) {
    absl::StrAppend(&out, "<p class=\"hint\">hint: ", HtmlEscape(ScalarText(hint)), "</p>\n");
  }
  absl::StrAppend(&out, "<h3>kernel counters</h3>");
  const nlohmann::json& kernel = j.value("kernel", nlohmann::json());
  if (!kernel.is_object()) {
    absl::StrAppend(&out, "<p>not available</p>\n");
  } else if (kernel.empty()) {
    absl::StrAppend(&out, "<p>none of the TCP, IP or UDP counters moved</p>\n");
  } else {
    absl::StrAppend(&out,
                    "<p>machine-wide (all processes in this network namespace), change over the "
                    "run:</p>",
                    KeyValueTable(kernel));
  }
  absl::StrAppend(&out, "</section>\n");
  return out;
}

bool AnyPositive(const std::vector<ReportRun>& runs, const char* field) {
  for (const ReportRun& run : runs) {
    for (const nlohmann::json& second : run.json["series"]) {
      if (Number(second, field) > 0) return true;
    }
  }
  return false;
}

constexpr char kStyle[] =
    "body{font-family:sans-serif;margin:16px;color:#222;max-width:1140px}"
    "h1{font-size:20px}h2{font-size:17px;border-top:1px solid #ccc;padding-top:8px}"
    "h3{font-size:14px;margin:12px 0 4px}figure{margin:8px 0}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 8px;"
    "text-align:right}td:first-child{text-align:left}.kv td:last-child{text-align:left}"
    ".ratio{color:#555}.warn{color:#b00}.hint{color:#805000}code{font-size:12px}";

}  // namespace

absl::Status CheckLoadJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  for (const char* key : {"config", "latency_ns", "series", "messages", "throughput"}) {
    if (!json.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat("has no \"", key, "\""));
    }
  }
  if (!json["series"].is_array() || !json["config"].is_object()) {
    return absl::InvalidArgumentError("\"series\" or \"config\" has the wrong type");
  }
  return absl::OkStatus();
}

absl::StatusOr<ReportRun> ReadReportRun(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return UsageError(absl::StrCat("cannot read ", path),
                      "give the file 'socklab load --json FILE' wrote");
  }
  std::stringstream text;
  text << in.rdbuf();
  ReportRun run;
  run.json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (run.json.is_discarded()) {
    return UsageError(absl::StrCat(path, " is not JSON"),
                      "give the file 'socklab load --json FILE' wrote");
  }
  if (absl::Status valid = CheckLoadJson(run.json); !valid.ok()) {
    return UsageError(absl::StrCat(path, " is not a socklab load result (", valid.message(), ")"),
                      "give the file 'socklab load --json FILE' wrote");
  }
  const size_t slash = path.find_last_of('/');
  run.name = slash == std::string::npos ? path : path.substr(slash + 1);
  return run;
}

std::string RenderReportHtml(const std::vector<ReportRun>& runs) {
  std::string title = "socklab load report";
  if (runs.size() == 1) absl::StrAppend(&title, ": ", runs[0].name);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      // Nothing may be fetched: the page is read offline and attached to tickets.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">"
      "<title>",
      HtmlEscape(title), "</title><style>", kStyle, "</style></head><body>\n<h1>",
      HtmlEscape(title), "</h1>\n<ul class=\"runs\">");
  for (size_t r = 0; r < runs.size(); ++r) {
    const nlohmann::json& c = runs[r].json["config"];
    absl::StrAppend(&out, "<li><span style=\"color:", Color(r), "\">&#9632;</span> <b>",
                    HtmlEscape(runs[r].name), "</b> ", HtmlEscape(c.value("started_at", "")),
                    " <code>", HtmlEscape(c.value("command_line", "")), "</code></li>");
  }
  absl::StrAppend(&out, "</ul>\n<h2>figures</h2>\n", FiguresTable(runs), RepeatTable(runs));

  for (const ReportRun& run : runs) {
    out += SweepSection(run);
  }
  absl::StrAppend(&out, "<h2>over the run</h2>\n");
  ChartSpec spec;
  spec.x_label = "seconds since the start (warmup included)";
  spec.title = "throughput (messages completed per second)";
  spec.y_label = "msg/s";
  out += Chart(spec, LinesOf(runs, {{"msg/s", [](const nlohmann::json& s) {
                                       const double dt = Number(s, "interval_s");
                                       return dt > 0 ? Number(s, "messages") / dt : 0;
                                     }}}));
  spec.title = "round-trip latency per second (each second's own histogram)";
  spec.y_label = "latency (log)";
  spec.y_scale = AxisScale::kLog10;
  spec.y_is_latency_ns = true;
  out += Chart(
      spec, LinesOf(runs, {{"p50", [](const nlohmann::json& s) { return Number(s, "p50_ns"); }},
                           {"p99", [](const nlohmann::json& s) { return Number(s, "p99_ns"); }},
                           {"p99.9", [](const nlohmann::json& s) { return Number(s, "p99_9_ns"); }},
                           {"max", [](const nlohmann::json& s) { return Number(s, "max_ns"); }}}));
  spec.y_scale = AxisScale::kLinear;
  spec.y_is_latency_ns = false;
  spec.title = "errors per second by class";
  spec.y_label = "errors/s";
  spec.empty_text = "no errors (or a JSON from before errors_by_class was recorded)";
  out += Chart(spec, KeyedLines(runs, "errors_by_class"));
  spec.empty_text = "no data in these runs";
  spec.title = "open connections";
  spec.y_label = "connections";
  out += Chart(spec, LinesOf(runs, {{"open", [](const nlohmann::json& s) {
                                       return Number(s, "open_connections");
                                     }}}));
  if (AnyPositive(runs, "connect_max_ns")) {
    spec.title = "connect latency per second (connections established in that second)";
    spec.y_label = "latency (log)";
    spec.y_scale = AxisScale::kLog10;
    spec.y_is_latency_ns = true;
    out += Chart(
        spec,
        LinesOf(runs,
                {{"p50", [](const nlohmann::json& s) { return Number(s, "connect_p50_ns"); }},
                 {"p99", [](const nlohmann::json& s) { return Number(s, "connect_p99_ns"); }},
                 {"max", [](const nlohmann::json& s) { return Number(s, "connect_max_ns"); }}}));
    spec.y_scale = AxisScale::kLinear;
    spec.y_is_latency_ns = false;
  }
  if (std::vector<ChartLine> states = KeyedLines(runs, "states"); !states.empty()) {
    spec.title = "TCP states of the target port's sockets (--states)";
    spec.y_label = "sockets";
    out += Chart(spec, states);
  }
  absl::StrAppend(&out, "<h2>latency percentile spectrum</h2>\n");
  spec.title = "latency by percentile (whole measured window)";
  spec.x_label = "percentile (log 1/(1-p) axis, as HdrHistogram's plotter draws it)";
  spec.x_scale = AxisScale::kPercentile;
  spec.y_label = "latency";
  spec.y_is_latency_ns = true;
  out += Chart(spec, SpectrumLines(runs));
  for (const ReportRun& run : runs) {
    out += RunDetails(run);
  }
  absl::StrAppend(&out, "</body></html>\n");
  return out;
}

}  // namespace socklab::client
