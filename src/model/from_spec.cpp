#include "locnet/model/from_spec.hpp"

#include <algorithm>

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
}  // namespace

Sequential parse_model(std::string_view text) {
  std::vector<Call> calls = parse_chain(text);
  Sequential model;
  size_t first = 0;
  if (!calls.empty() && calls[0].type == "Input") {
    const Call& in = calls[0];
    std::string where = detail::where("Input", in.column);
    if (in.args.size() + in.kwargs.size() != 1 || (in.kwargs.size() == 1 && in.kwargs[0].first != "shape"))
      raise<ConfigError>("{}: takes exactly one argument, shape (a tuple of positive ints), got {}", where, in.repr());
    model = Sequential(Input(input_shape(in.args.empty() ? in.kwargs[0].second : in.args[0], where, "shape")));
    first = 1;
  }
  for (size_t i = first; i < calls.size(); ++i) {
    Call call = calls[i];
    if (call.type == "Input")
      raise<ConfigError>("{}: Input must come first in the chain", detail::where("Input", call.column));
    // Keras's input_shape= on the first layer is an Input(...) in front of it.
    auto kw = std::find_if(call.kwargs.begin(), call.kwargs.end(),
                           [](const auto& k) { return k.first == "input_shape"; });
    if (kw != call.kwargs.end()) {
      std::string where = detail::where(call.type, call.column);
      if (i != 0)
        raise<ConfigError>("{}: input_shape must be given on the first layer only (or as Input(shape) in front), got "
                           "it on layer {}{}",
                           where, i + 1 - first, first ? " after an Input" : "");
      model = Sequential(Input(input_shape(kw->second, where, "input_shape")));
      call.kwargs.erase(kw);
    }
    model.add(make_layer(call));
  }
  return model;
}

}  // namespace locnet
