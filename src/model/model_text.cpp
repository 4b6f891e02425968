// Model's text forms: summary(), svg() and spec().
#include <algorithm>
#include <cctype>
#include <set>

#include "locnet/core/config.hpp"
#include "locnet/model/model.hpp"

namespace locnet {
namespace {

std::string group_digits(int64_t v) {
  std::string s = std::to_string(v), out;
  int n = 0;
  for (size_t i = s.size(); i-- > 0;) {
    out.insert(out.begin(), s[i]);
    if (++n % 3 == 0 && i > 0 && s[i - 1] != '-') out.insert(out.begin(), ',');
  }
  return out;
}

std::string human_bytes(int64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < (int64_t(1) << 20)) return fmt::format("{:.1f} KiB", double(b) / 1024);
  return fmt::format("{:.1f} MiB", double(b) / double(int64_t(1) << 20));
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

bool is_identifier(const std::string& s) {
  static const std::set<std::string> reserved = {"None", "True", "False", "Model", "Input"};
  if (s.empty() || reserved.count(s) || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

std::string Model::summary(std::optional<Shape> in) const {
  const std::vector<Shape> in_shapes = known_input_shapes(in, "summary");
  Model m = built_copy(in);
  const std::vector<Shape> shapes = m.node_shapes(in_shapes);
  const bool graph = !is_chain();
  struct Row {
    std::string name, shape, params, connected;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < m.nodes_.size(); ++i) {
    const Node& n = m.nodes_[i];
    if (!n.layer && !graph) continue;
    std::vector<std::string> from;
    for (NodeId id : n.inputs) from.push_back(fmt::format("'{}[0][0]'", m.nodes_[size_t(id)].name));
    rows.push_back({fmt::format("{} ({})", n.name, n.layer ? n.layer->type() : "InputLayer"), shapes[i].str(),
                    group_digits(n.layer ? n.layer->param_count() + n.layer->buffer_count() : 0),
                    fmt::format("[{}]", fmt::join(from, ", "))});
  }
  size_t w0 = std::string_view("Layer (type)").size(), w1 = std::string_view("Output Shape").size(),
         w2 = std::string_view("Param #").size(), w3 = std::string_view("Connected to").size();
  for (const auto& r : rows) {
    w0 = std::max(w0, r.name.size());
    w1 = std::max(w1, r.shape.size());
    w2 = std::max(w2, r.params.size());
    w3 = std::max(w3, r.connected.size());
  }
  w0 += 2;
  w1 += 2;
  const size_t width = w0 + w1 + w2 + (graph ? 2 + w3 : 0);
  std::vector<std::string> ins;
  for (size_t k = 0; k < in_shapes.size(); ++k)
    ins.push_back(in_shapes.size() == 1 ? in_shapes[k].str() : m.nodes_[size_t(inputs_[k])].name + " " + in_shapes[k].str());
  std::string out = fmt::format("Model: \"{}\"\nInput shape{}: {}\n{}\n", graph ? "model" : "sequential",
                                ins.size() == 1 ? "" : "s", fmt::join(ins, ", "), std::string(width, '-'));
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
    std::string s = fmt::format("{:<{}}{:<{}}{:>{}}", a, w0, b, w1, c, w2);
    return graph ? fmt::format("{}  {}\n", s, d) : s + "\n";
  };
  out += line("Layer (type)", "Output Shape", "Param #", "Connected to") + std::string(width, '=') + "\n";
  for (const auto& r : rows) out += line(r.name, r.shape, r.params, r.connected);
  const int64_t trainable = m.param_count(), fixed = m.buffer_count();
  std::vector<Shape> one;
  for (const Shape& s : in_shapes) one.push_back(s.with_dim(0, 1));
  out += fmt::format("{}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\n", std::string(width, '='),
                     group_digits(trainable + fixed), group_digits(trainable), group_digits(fixed));
  out += fmt::format("Peak forward memory: {} per sample (f32 intermediates held at once)\n",
                     human_bytes(m.forward_peak_bytes(one)));
  return out;
}

std::string Model::svg(std::optional<Shape> in) const {
  const std::vector<Shape> in_shapes = known_input_shapes(in, "graph");
  const std::vector<Shape> shapes = node_shapes(in_shapes);
  // Rows by depth (the longest path from an input), columns in insertion order within a row.
  std::vector<int> depth(nodes_.size(), 0), col(nodes_.size(), 0);
  std::vector<int> per_row;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (NodeId id : nodes_[i].inputs) depth[i] = std::max(depth[i], depth[size_t(id)] + 1);
    if (size_t(depth[i]) >= per_row.size()) per_row.resize(size_t(depth[i]) + 1, 0);
    col[i] = per_row[size_t(depth[i])]++;
  }
  const int box_w = 240, box_h = 54, gap_x = 30, gap_y = 40, margin = 20, lane_w = 12;
  const int cols = per_row.empty() ? 1 : *std::max_element(per_row.begin(), per_row.end());
  // An edge that skips rows runs in its own lane right of the boxes, so it never crosses one.
  int lanes = 0;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (NodeId id : nodes_[i].inputs) lanes += depth[i] - depth[size_t(id)] > 1;
  const int boxes_w = 2 * margin + cols * box_w + (cols - 1) * gap_x;
  const int width = boxes_w + lanes * lane_w;
  const int height = 2 * margin + int(per_row.size()) * (box_h + gap_y) - gap_y;
  auto x_of = [&](size_t i) {
    const int n = per_row[size_t(depth[i])];
    const int row_w = n * box_w + (n - 1) * gap_x;
    return (boxes_w - row_w) / 2 + col[i] * (box_w + gap_x);
  };
  auto y_of = [&](size_t i) { return margin + depth[i] * (box_h + gap_y); };
  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
      "orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  int lane = 0;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (size_t k = 0; k < nodes_[i].inputs.size(); ++k) {
      const size_t p = size_t(nodes_[i].inputs[k]);
      // Several inputs enter a box side by side, in the order the layer takes them.
      const int x1 = x_of(p) + box_w / 2, y1 = y_of(p) + box_h;
      const int x2 = x_of(i) + box_w * int(k + 1) / int(nodes_[i].inputs.size() + 1), y2 = y_of(i);
      std::string points = fmt::format("{},{} {},{}", x1, y1, x2, y2);
      if (depth[i] - depth[p] > 1) {
        const int lx = boxes_w - margin / 2 + lane_w * lane, dy = gap_y / 4 + 5 * (lane % 4);  // lanes apart
        ++lane;
        points = fmt::format("{},{} {},{} {},{} {},{} {},{} {},{}", x1, y1, x1, y1 + dy, lx, y1 + dy, lx, y2 - dy, x2,
                             y2 - dy, x2, y2);
      }
      out += fmt::format(
          "<polyline points=\"{}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
          points);
    }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const std::string type = n.layer ? n.layer->type() : "Input";
    out += fmt::format(
        "<g><title>{0}</title><rect x=\"{1}\" y=\"{2}\" width=\"{3}\" height=\"{4}\" rx=\"6\" fill=\"{5}\" "
        "stroke=\"#333\"/>\n<text x=\"{6}\" y=\"{7}\" text-anchor=\"middle\" font-weight=\"bold\">{0}</text>\n"
        "<text x=\"{6}\" y=\"{8}\" text-anchor=\"middle\">{9} {10}</text></g>\n",
        xml_escape(n.name), x_of(i), y_of(i), box_w, box_h, n.layer ? "#e8f0fe" : "#fef3e0", x_of(i) + box_w / 2,
        y_of(i) + 22, y_of(i) + 40, xml_escape(type), xml_escape(shapes[i].str()));
  }
  out += "</svg>\n";
  return out;
}

std::string Model::spec() const {
  if (is_chain()) {
    std::vector<std::string> parts;
    if (std::optional<Shape> in = input_shape()) {
      std::vector<int64_t> d = in->without_batch().dims();
      parts.push_back("Input(" + detail::to_value(d).repr() + ")");
    }
    for (size_t i : layers_) parts.push_back(nodes_[i].layer->config().repr());
    return fmt::format("{}", fmt::join(parts, " >> "));
  }
  // Keras functional statements; variables are the node names where those are identifiers.
  std::vector<std::string> var(nodes_.size());
  std::set<std::string> used;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::string v = is_identifier(nodes_[i].name) ? nodes_[i].name : "node_" + std::to_string(i);
    while (used.count(v)) v += "_";
    used.insert(v);
    var[i] = v;
  }
  auto list = [&](const std::vector<NodeId>& ids) {
    std::vector<std::string> names;
    for (NodeId id : ids) names.push_back(var[size_t(id)]);
    return ids.size() == 1 ? names[0] : fmt::format("[{}]", fmt::join(names, ", "));
  };
  std::string out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (!n.layer) {
      if (!n.shape) raise<ConfigError>("spec: input '{}' has no shape; a graph's inputs need Input(shape)", n.name);
      out += fmt::format("{} = Input({}, name={})\n", var[i], detail::to_value(n.shape->without_batch().dims()).repr(),
                         Value(n.name).repr());
      continue;
    }
    out += fmt::format("{} = {}({})\n", var[i], n.layer->config().repr(), list(n.inputs));
  }
  out += fmt::format("Model(inputs={}, outputs={})", list(inputs_), list(outputs()));
  return out;
}

}  // namespace locnet
