#pragma once

#include <string>
#include <utility>
#include <vector>

namespace socklab::client {

// One line of a chart: its legend name, colour, dash pattern ("" = solid) and points (x, y).
struct ChartLine {
  std::string name;
  std::string color;
  std::string dash;
  std::vector<std::pair<double, double>> points;
};

// How an axis maps its values.
enum class AxisScale {
  kLinear,
  kLog10,
  // HdrHistogram's percentile axis: x is a percentile (0-100) drawn at log10(1/(1-p)), ticked
  // at 90%, 99%, 99.9%, ...
  kPercentile,
};

struct ChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  AxisScale x_scale = AxisScale::kLinear;
  AxisScale y_scale = AxisScale::kLinear;
  // How tick values on the y axis are written (a latency in ns: "120us"; a count: "41.2k").
  bool y_is_latency_ns = false;
  std::string empty_text = "no data in these runs";  // shown instead of an empty plot
  int width = 1100;
  int height = 300;
};

// An inline <svg> line chart (axes, ticks, grid, legend), self-contained: no scripts, fonts or
// external references. Points that a log axis cannot place (<= 0) are skipped; a chart with no
// point says so in its body instead of drawing empty axes.
std::string RenderLineChart(const ChartSpec& spec, const std::vector<ChartLine>& lines);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace socklab::client
