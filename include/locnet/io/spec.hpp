// The layer-spec language: Python-call syntax, as in neupy and Keras (docs/spec-language.md).
//   Input((28, 28, 1)) >> Dense(10, activation="relu", name="fc") >> Flatten()
// Values: integers, floats (1e-4, .5, -3.0), strings in single or double quotes, tuples (a, b) and lists
// [a, b], None, True, False, nested calls (L2(1e-4)). Type names may be dotted (LocalResponseNorm.pytorch).
// The parser gives a neutral syntax tree (core/value.hpp: Value, Call); the catalog (core/catalog.hpp) turns calls
// into objects, and model/from_spec.hpp turns a chain into a Sequential model.
// Errors: ConfigError "spec column C: expected <what>, got <what>"; unknown layers and arguments are reported
// by the catalog with the column of the call.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/value.hpp"

namespace locnet {

Value parse_value(std::string_view text);
std::vector<Call> parse_chain(std::string_view text);  // calls joined by >>

}  // namespace locnet
