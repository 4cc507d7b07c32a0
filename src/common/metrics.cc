#include "common/metrics.h"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace kiseki {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (v > 0) sum_nanos_.fetch_add(static_cast<uint64_t>(v * 1e9), std::memory_order_relaxed);
}

double Histogram::sum() const {
  return static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
}

std::vector<double> Histogram::latency_bounds() {
  std::vector<double> b;
  for (double v = 50e-6; v < 4.0; v *= 2) b.push_back(v);
  return b;
}

static std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') { out += "\\n"; continue; }
    out.push_back(c);
  }
  return out;
}

static std::string render_labels(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ",";
    first = false;
    s += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra.empty()) {
    if (!first) s += ",";
    s += extra;
  }
  return s + "}";
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Kind kind,
                                                 const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
  }
  assert(it->second.kind == kind && "metric registered twice with different kinds");
  return it->second;
}

Counter* MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, Kind::kCounter, help).counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, Kind::kGauge, help).gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const Labels& labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, Kind::kHistogram, help).histograms[render_labels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

static std::string fmt_double(double v) {
  if (std::isinf(v)) return "+Inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// Inserts `extra` (like le="0.1") into an already rendered label set.
static std::string with_label(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

uint64_t MetricsRegistry::counter_total(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  uint64_t n = 0;
  if (it != families_.end())
    for (const auto& [labels, c] : it->second.counters) n += c->value();
  return n;
}

std::vector<uint64_t> MetricsRegistry::histogram_total(const std::string& name, std::vector<double>* bounds) const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> counts;
  auto it = families_.find(name);
  if (it == families_.end()) return counts;
  for (const auto& [labels, h] : it->second.histograms) {
    if (counts.empty()) {
      *bounds = h->bounds();
      counts.assign(h->bounds().size() + 1, 0);
    }
    if (h->bounds().size() + 1 != counts.size()) continue;  // registered with other bounds
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += h->bucket(i);
  }
  return counts;
}

std::string MetricsRegistry::expose() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    static constexpr const char* kTypes[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + kTypes[static_cast<int>(f.kind)] + "\n";
    for (const auto& [labels, c] : f.counters)
      out += name + labels + " " + std::to_string(c->value()) + "\n";
    for (const auto& [labels, g] : f.gauges)
      out += name + labels + " " + std::to_string(g->value()) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= h->bounds().size(); ++i) {
        cumulative += h->bucket(i);
        double le = i < h->bounds().size() ? h->bounds()[i] : INFINITY;
        out += name + "_bucket" + with_label(labels, "le=\"" + fmt_double(le) + "\"") + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + labels + " " + fmt_double(h->sum()) + "\n";
      out += name + "_count" + labels + " " + std::to_string(h->count()) + "\n";
    }
  }
  return out;
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry r;
  return r;
}

}  // namespace kiseki
