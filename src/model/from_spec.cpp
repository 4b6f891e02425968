#include "locnet/model/from_spec.hpp"

#include <algorithm>
#include <map>

#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"

namespace locnet {

namespace {
// A per-sample shape given as `what` of `where`: a tuple of positive ints.
Shape input_shape(const Value& v, const std::string& where, std::string_view what) {
  std::vector<int64_t> dims;
  if (!detail::from_value(v, dims)) detail::bad_argument_type(where, what, "a tuple of positive ints", v);
  for (int64_t d : dims)
    if (d <= 0) raise<ConfigError>("{}: argument '{}' must contain positive ints, got {}", where, what, v.repr());
  return Shape(dims);
}

class GraphBuilder {
 public:
  explicit GraphBuilder(bool multiline) : multiline_(multiline) {}

  Model build(const std::vector<SpecStatement>& program) {
    std::vector<NodeId> last;
    for (size_t s = 0; s < program.size(); ++s) {
      const SpecStatement& st = program[s];
      if (st.expr.kind == SpecExpr::Kind::model) {
        if (s + 1 != program.size()) fail<ConfigError>(st.expr, "Model(...) must be the last statement");
        model_call(st.expr);
        return std::move(m_);
      }
      last = eval(st.expr, {});
      if (!st.target.empty()) vars_[st.target] = last;
    }
    if (last.size() != 1 || NodeId(m_.node_count()) - 1 != last[0]) m_.set_outputs(last);
    return std::move(m_);
  }

 private:
  template <class E, class... Args>
  [[noreturn]] void fail(const SpecExpr& at, fmt::format_string<Args...> f, Args&&... args) const {
    std::string msg = fmt::format(f, std::forward<Args>(args)...);
    if (multiline_) raise<E>("spec line {}, column {}: {}", at.line, at.column, msg);
    raise<E>("spec column {}: {}", at.column, msg);
  }
  // Errors the catalog and the model raise name the call's column; a multi-line text adds the line.
  template <class Fn>
  auto at_line(int line, Fn&& fn) -> decltype(fn()) {
    if (!multiline_) return fn();
    try {
      return fn();
    } catch (const ConfigError& e) {
      raise<ConfigError>("spec line {}: {}", line, e.what());
    } catch (const ShapeError& e) {
      raise<ShapeError>("spec line {}: {}", line, e.what());
    } catch (const NotSupported& e) {
      raise<NotSupported>("spec line {}: {}", line, e.what());
    }
  }

  // The nodes an expression produces, continuing from `cur` (the nodes before `>>`, empty at the start).
  std::vector<NodeId> eval(const SpecExpr& e, const std::vector<NodeId>& cur) {
    switch (e.kind) {
      case SpecExpr::Kind::name: {
        if (!cur.empty()) fail<ConfigError>(e, "a name ('{}') can only start a chain, not follow '>>'", e.name);
        auto it = vars_.find(e.name);
        if (it == vars_.end()) {
          std::vector<std::string> known;
          for (const auto& kv : vars_) known.push_back(kv.first);
          fail<ConfigError>(e, "name '{}' is not defined{}{}", e.name, known.empty() ? "" : "; defined: ",
                            fmt::join(known, ", "));
        }
        return it->second;
      }
      case SpecExpr::Kind::chain: {
        std::vector<NodeId> c = cur;
        for (const SpecExpr& link : e.items) c = eval(link, c);
        return c;
      }
      case SpecExpr::Kind::branches: {
        std::vector<NodeId> out;
        for (const SpecExpr& b : e.items) {
          std::vector<NodeId> r = eval(b, cur);
          out.insert(out.end(), r.begin(), r.end());
        }
        return out;
      }
      case SpecExpr::Kind::model:
        fail<ConfigError>(e, "Model(...) must be a statement of its own, the last one");
      case SpecExpr::Kind::layer:
        break;
    }
    return layer(e, cur);
  }

  std::vector<NodeId> layer(const SpecExpr& e, const std::vector<NodeId>& cur) {
    Call call = e.call;
    const std::string where = detail::where(call.type, call.column);
    if (call.type == "Input") {
      if (!cur.empty() || !e.items.empty())
        at_line(e.line, [&]() -> int { raise<ConfigError>("{}: Input must come first in the chain", where); });
      return {at_line(e.line, [&] { return input(call, where); })};
    }
    std::vector<NodeId> ins = cur;
    if (!e.items.empty()) {
      if (!cur.empty())
        fail<ConfigError>(e, "{}: a layer called on nodes, {}(...)(x), cannot also follow '>>'", where, call.type);
      ins = eval(e.items[0], {});
    }
    auto kw = std::find_if(call.kwargs.begin(), call.kwargs.end(),
                           [](const auto& k) { return k.first == "input_shape"; });
    if (kw != call.kwargs.end()) {  // Keras's input_shape= on the first layer is an Input(...) in front of it
      if (m_.node_count() != 0 || !ins.empty())
        at_line(e.line, [&]() -> int {
          raise<ConfigError>("{}: input_shape must be given on the first layer only (or as Input(shape) in front), "
                             "got it on layer {}{}",
                             where, m_.size() + 1, first_input_explicit_ ? " after an Input" : "");
        });
      ins = {m_.input(at_line(e.line, [&] { return input_shape(kw->second, where, "input_shape"); }))};
      call.kwargs.erase(kw);
    }
    if (ins.empty()) {
      if (m_.node_count() != 0)
        fail<ConfigError>(e, "{}: the layer has no input: start with Input(shape), or call it on a node, {}(...)(x)",
                          where, call.type);
      at_line(e.line, [&] { return &m_.add(make_layer(call)); });  // a chain whose shape comes with the data
      return {NodeId(m_.node_count()) - 1};
    }
    return {at_line(e.line, [&] { return m_.add(make_layer(call), ins); })};
  }

  NodeId input(const Call& in, const std::string& where) {
    const Value* shape = in.args.empty() ? in.kwarg("shape") : &in.args[0];
    const Value* name = in.kwarg("name");
    const size_t known = in.args.size() + size_t(in.kwarg("shape") != nullptr) + size_t(name != nullptr);
    if (!shape || in.args.size() > 1 || known != in.args.size() + in.kwargs.size())
      raise<ConfigError>("{}: takes exactly one argument, shape (a tuple of positive ints), got {} (name= may follow)",
                         where, in.repr());
    if (name && name->kind() != Value::Kind::Str) detail::bad_argument_type(where, "name", "a string", *name);
    first_input_explicit_ = true;
    return m_.input(input_shape(*shape, where, "shape"), name ? name->as_str() : std::string());
  }

  void model_call(const SpecExpr& e) {
    for (const auto& [key, v] : e.call.kwargs)
      if (key == "name" && !v.is_none() && v.kind() != Value::Kind::Str)
        fail<ConfigError>(e, "Model: argument 'name' must be a string, got {}", v.repr());
    std::vector<NodeId> ins = eval(e.items[0], {}), outs = eval(e.items[1], {});
    for (NodeId id : ins)
      if (m_.node_layer(id))
        fail<ConfigError>(e, "Model: inputs must be Input nodes, got '{}' ({})", m_.node_name(id),
                          m_.node_layer(id)->type());
    at_line(e.line, [&] {
      m_.set_inputs(ins);
      m_.set_outputs(outs);
      return 0;
    });
  }

  Model m_;
  std::map<std::string, std::vector<NodeId>> vars_;
  bool multiline_;
  bool first_input_explicit_ = false;
};

}  // namespace

Model parse_model(std::string_view text) {
  return GraphBuilder(text.find('\n') != std::string_view::npos).build(parse_program(text));
}

}  // namespace locnet
