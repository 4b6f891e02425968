#include "locnet/train/history.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

namespace locnet {
namespace {

constexpr double kPanelW = 360, kPanelH = 240, kMarginL = 56, kMarginT = 40, kMarginB = 44, kGap = 40;

struct Curve {
  std::vector<double> y;
  const char* label;
  const char* color;
  bool dashed;
};

// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` ticks over span.
double tick_step(double span, int target) {
  double raw = span / target, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '<') r += "&lt;";
    else if (c == '>') r += "&gt;";
    else if (c == '&') r += "&amp;";
    else r += c;
  }
  return r;
}

std::string panel(double x0, const std::string& title, const std::vector<Curve>& curves, int64_t first_epoch) {
  double lo = INFINITY, hi = -INFINITY;
  size_t n = 0;
  for (const Curve& c : curves)
    for (double v : c.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v), n = std::max(n, c.y.size());
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double step = tick_step(hi - lo, 5);
  lo = std::floor(lo / step) * step, hi = std::ceil(hi / step) * step;
  const double px = x0 + kMarginL, pw = kPanelW - kMarginL - 10, py = kMarginT, ph = kPanelH - kMarginT - kMarginB;
  const double e0 = double(first_epoch), e1 = double(first_epoch + int64_t(std::max<size_t>(n, 2)) - 1);
  auto sx = [&](double e) { return px + (e - e0) / (e1 - e0) * pw; };
  auto sy = [&](double v) { return py + ph - (v - lo) / (hi - lo) * ph; };

  std::string s = fmt::format(R"(<text x="{:.1f}" y="24" font-size="15" text-anchor="middle">{}</text>)" "\n",
                              px + pw / 2, title);
  s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#444"/>)" "\n",
                   px, py, pw, ph);
  for (double v = lo; v <= hi + step / 2; v += step) {
    s += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="#ddd"/>)"
                     R"(<text x="{3:.1f}" y="{4:.1f}" font-size="11" text-anchor="end">{5:.{6}f}</text>)" "\n",
                     px, sy(v), px + pw, px - 5, sy(v) + 4, v, step < 0.01 ? 3 : step < 0.1 ? 2 : 1);
  }
  const double estep = std::max(1.0, tick_step(e1 - e0, 6));
  for (double e = e0; e <= e1 + 1e-9; e += estep)
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">{}</text>)" "\n", sx(e),
                     py + ph + 16, int64_t(e));
  s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">epoch</text>)" "\n",
                   px + pw / 2, py + ph + 34);
  double ly = py + 14;
  for (const Curve& c : curves) {
    if (c.y.empty()) continue;
    std::string pts;
    for (size_t i = 0; i < c.y.size(); ++i)
      if (std::isfinite(c.y[i])) pts += fmt::format("{:.1f},{:.1f} ", sx(e0 + double(i)), sy(c.y[i]));
    const char* dash = c.dashed ? R"( stroke-dasharray="6,4")" : "";
    s += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>)" "\n", pts, c.color, dash);
    for (size_t i = 0; i < c.y.size(); ++i)
      if (std::isfinite(c.y[i]))
        s += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", sx(e0 + double(i)), sy(c.y[i]),
                         c.color);
    s += fmt::format("\n" R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="{3}" stroke-width="2"{4}/>)"
                     R"(<text x="{5:.1f}" y="{6:.1f}" font-size="11">{7}</text>)" "\n",
                     px + pw - 80, ly, px + pw - 60, c.color, dash, px + pw - 55, ly + 4, c.label);
    ly += 16;
  }
  return s;
}

}  // namespace

std::string csv_header() { return "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n"; }

std::string csv_row(const EpochMetrics& m) {
  std::string val = m.validation ? fmt::format("{:.6f},{:.6f}", m.validation->loss, m.validation->accuracy) : ",";
  return fmt::format("{},{:.6f},{:.6f},{},{:.3f}\n", m.epoch, m.loss, m.accuracy, val, m.seconds);
}

std::string history_csv(const std::vector<EpochMetrics>& history) {
  std::string s = csv_header();
  for (const EpochMetrics& m : history) s += csv_row(m);
  return s;
}

std::string learning_curves_svg(const std::vector<EpochMetrics>& history, const std::string& title) {
  auto series = [&](const std::function<double(const EpochMetrics&)>& f, bool validation) {
    std::vector<double> y;
    for (const EpochMetrics& m : history)
      if (!validation || m.validation) y.push_back(f(m));
    return y;
  };
  std::vector<Curve> loss = {{series([](auto& m) { return m.loss; }, false), "train", "#1f77b4", false},
                             {series([](auto& m) { return m.validation->loss; }, true), "test", "#d62728", true}};
  std::vector<Curve> acc = {{series([](auto& m) { return m.accuracy; }, false), "train", "#1f77b4", false},
                            {series([](auto& m) { return m.validation->accuracy; }, true), "test", "#d62728", true}};
  const int64_t first = history.empty() ? 1 : history.front().epoch;
  const double w = 2 * kPanelW + kGap, h = kPanelH + (title.empty() ? 0 : 20);
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" )"
                              R"(viewBox="0 0 {0} {1}" font-family="sans-serif">)" "\n"
                              R"(<rect width="100%" height="100%" fill="white"/>)" "\n",
                              w, h);
  if (!title.empty())
    s += fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#555">{}</text>)" "\n", w / 2,
                     h - 6, escape(title));
  s += panel(0, "loss", loss, first);
  s += panel(kPanelW + kGap, "accuracy", acc, first);
  return s + "</svg>\n";
}

}  // namespace locnet
