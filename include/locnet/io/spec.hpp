// The layer-spec language: Python-call syntax, as in neupy and Keras (docs/spec-language.md).
//   Input((28, 28, 1)) >> Dense(10, activation="relu", name="fc") >> Flatten()
// Values: integers, floats (1e-4, .5, -3.0), strings in single or double quotes, tuples (a, b) and lists
// [a, b], None, True, False, nested calls (L2(1e-4)). Type names may be dotted (LocalResponseNorm.pytorch).
// Errors: ConfigError "spec column C: expected <what>, got <what>"; unknown layers and arguments are reported
// by the layer registry with the column of the call.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/value.hpp"
#include "locnet/model/sequential.hpp"

namespace locnet {

Value parse_value(std::string_view text);
std::vector<Call> parse_chain(std::string_view text);  // calls joined by >>
// A model from a chain; a leading Input(shape), or Keras's input_shape=shape on the first layer, sets the input
// shape (per sample). input_shape= on any other layer is a ConfigError.
Sequential parse_model(std::string_view text);

}  // namespace locnet
