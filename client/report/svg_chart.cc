#include "client/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_report.h"

namespace socklab::client {
namespace {

constexpr int kLeft = 80;  // room for the y tick labels
constexpr int kRight = 20;
constexpr int kTop = 34;     // the title
constexpr int kBottom = 44;  // x tick labels and the x label
constexpr int kLegendRow = 18;

// The drawn coordinate of a value on an axis (before scaling to pixels); NaN when the scale
// cannot place it.
double Transform(AxisScale scale, double v) {
  switch (scale) {
    case AxisScale::kLinear:
      return v;
    case AxisScale::kLog10:
      return v > 0 ? std::log10(v) : std::numeric_limits<double>::quiet_NaN();
    case AxisScale::kPercentile:
      return v >= 0 && v < 100 ? std::log10(100.0 / (100.0 - v))
                               : std::numeric_limits<double>::quiet_NaN();
  }
  return v;
}

std::string CountText(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return absl::StrFormat("%.3gG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.3gM", v / 1e6);
  if (a >= 1e3) return absl::StrFormat("%.3gk", v / 1e3);
  return absl::StrFormat("%.3g", v);
}

std::string TickText(AxisScale scale, bool latency, double v) {
  if (scale == AxisScale::kPercentile) {
    return absl::StrFormat("%.10g%%", v);
  }
  if (latency) {
    return FormatLatency(static_cast<int64_t>(std::llround(v)));
  }
  return CountText(v);
}

// "Nice" tick values between lo and hi (in value space, not transformed).
std::vector<double> Ticks(AxisScale scale, double lo, double hi) {
  std::vector<double> ticks;
  if (scale == AxisScale::kPercentile) {
    // 0%, 90%, 99%, ... up to the highest transformed coordinate.
    for (int nines = 0; nines <= 9; ++nines) {
      const double p = 100.0 - 100.0 / std::pow(10.0, nines);
      if (Transform(scale, p) <= hi + 1e-9) {
        ticks.push_back(p);
      }
    }
    return ticks;
  }
  if (scale == AxisScale::kLog10) {
    for (int e = static_cast<int>(std::floor(lo)); e <= static_cast<int>(std::ceil(hi)); ++e) {
      ticks.push_back(std::pow(10.0, e));
    }
    return ticks;
  }
  const double span = hi - lo;
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderLineChart(const ChartSpec& spec, const std::vector<ChartLine>& lines) {
  // The extent of every placeable point, in transformed coordinates.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const ChartLine& line : lines) {
    for (const auto& [x, y] : line.points) {
      const double tx = Transform(spec.x_scale, x);
      const double ty = Transform(spec.y_scale, y);
      if (std::isnan(tx) || std::isnan(ty)) continue;
      x_lo = std::min(x_lo, tx);
      x_hi = std::max(x_hi, tx);
      y_lo = std::min(y_lo, ty);
      y_hi = std::max(y_hi, ty);
    }
  }
  const int legend_rows = static_cast<int>((lines.size() + 3) / 4);
  const int height =
      std::isfinite(x_lo) ? spec.height + 12 + legend_rows * kLegendRow : 60;  // empty: one line
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
      "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">%s</text>\n",
      spec.width, height, spec.width, height, HtmlEscape(spec.title), kLeft,
      HtmlEscape(spec.title));
  if (!std::isfinite(x_lo)) {
    absl::StrAppendFormat(
        &svg, "<text x=\"%d\" y=\"50\" font-size=\"13\" fill=\"#666\">%s</text>\n</svg>\n", kLeft,
        HtmlEscape(spec.empty_text));
    return svg;
  }
  // Linear axes start at 0 (a rate or a count read against its zero); log axes span decades.
  if (spec.y_scale == AxisScale::kLinear) {
    y_lo = std::min(0.0, y_lo);
    if (y_hi <= y_lo) y_hi = y_lo + 1;
    y_hi *= 1.05;
  } else {
    y_lo = std::floor(y_lo);
    y_hi = std::max(std::ceil(y_hi), y_lo + 1);
  }
  if (spec.x_scale == AxisScale::kPercentile) {
    x_lo = 0;
    x_hi = std::max(std::ceil(x_hi), 1.0);
  } else if (spec.x_scale == AxisScale::kLinear) {
    x_lo = std::min(0.0, x_lo);
  }
  if (x_hi <= x_lo) x_hi = x_lo + 1;
  const double plot_w = spec.width - kLeft - kRight;
  const double plot_h = spec.height - kTop - kBottom;
  auto px = [&](double tx) { return kLeft + (tx - x_lo) / (x_hi - x_lo) * plot_w; };
  auto py = [&](double ty) { return kTop + plot_h - (ty - y_lo) / (y_hi - y_lo) * plot_h; };

  absl::StrAppendFormat(&svg,
                        "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                        "stroke=\"#999\"/>\n",
                        kLeft, kTop, plot_w, plot_h);
  const double y_lo_value = spec.y_scale == AxisScale::kLinear ? y_lo : std::pow(10.0, y_lo);
  const double y_hi_value = spec.y_scale == AxisScale::kLinear ? y_hi : std::pow(10.0, y_hi);
  for (double v : Ticks(spec.y_scale, spec.y_scale == AxisScale::kLinear ? y_lo : y_lo,
                        spec.y_scale == AxisScale::kLinear ? y_hi : y_hi)) {
    if (v < y_lo_value * 0.999 || v > y_hi_value * 1.001) continue;
    const double y = py(Transform(spec.y_scale, v));
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
        "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
        kLeft, kLeft + plot_w, y, y, kLeft - 6, y + 4,
        HtmlEscape(TickText(spec.y_scale, spec.y_is_latency_ns, v)));
  }
  for (double v : Ticks(spec.x_scale, x_lo, x_hi)) {
    const double x = px(Transform(spec.x_scale, v));
    if (x < kLeft - 0.5 || x > kLeft + plot_w + 0.5) continue;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                          "text-anchor=\"middle\">%s</text>\n",
                          x, x, kTop, kTop + plot_h, x, kTop + plot_h + 16,
                          HtmlEscape(TickText(spec.x_scale, false, v)));
  }
  absl::StrAppendFormat(
      &svg,
      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%s"
      "</text>\n<text x=\"14\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 14 %.1f)\">%s</text>\n",
      kLeft + plot_w / 2, kTop + plot_h + 34, HtmlEscape(spec.x_label), kTop + plot_h / 2,
      kTop + plot_h / 2, HtmlEscape(spec.y_label));
  for (const ChartLine& line : lines) {
    std::string path;
    for (const auto& [x, y] : line.points) {
      const double tx = Transform(spec.x_scale, x);
      const double ty = Transform(spec.y_scale, y);
      if (std::isnan(tx) || std::isnan(ty)) continue;
      absl::StrAppendFormat(&path, "%s%.1f,%.1f", path.empty() ? "" : " ", px(tx), py(ty));
    }
    if (path.empty()) continue;
    if (path.find(' ') == std::string::npos) {
      // One point makes no line: mark it.
      const size_t comma = path.find(',');
      absl::StrAppendFormat(&svg,
                            "<circle class=\"series\" cx=\"%s\" cy=\"%s\" r=\"4\" fill=\"%s\"/>\n",
                            path.substr(0, comma), path.substr(comma + 1), line.color);
      continue;
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
        "stroke-width=\"2\"%s points=\"%s\"/>\n",
        line.color, line.dash.empty() ? "" : absl::StrCat(" stroke-dasharray=\"", line.dash, "\""),
        path);
  }
  // The legend, four entries a row under the plot.
  for (size_t i = 0; i < lines.size(); ++i) {
    const double x = kLeft + (i % 4) * (plot_w / 4);
    const double y = spec.height + 12 + (i / 4) * kLegendRow;
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
        "stroke-width=\"3\"%s/><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s"
        "</text>\n",
        x, x + 24, y - 4, y - 4, lines[i].color,
        lines[i].dash.empty() ? "" : absl::StrCat(" stroke-dasharray=\"", lines[i].dash, "\""),
        x + 30, y, HtmlEscape(lines[i].name));
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace socklab::client
