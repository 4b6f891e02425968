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

// Graph programs (model/from_spec.hpp builds the model): statements separated by new lines or ';', `#` comments.
//   statement := name '=' expr | expr
//   expr      := term ('>>' term)*                     a chain; '>>' may start or end a line
//   term      := Call | Call '(' expr ')'              a layer; called on its inputs (Keras functional)
//              | name                                  a node assigned earlier
//              | '[' expr (',' expr)* ']'              parallel branches (neupy) or a list of nodes
//              | 'Model' '(' inputs, outputs [, name=...] ')'   (positional or keywords; a name or a list each)
// In a multi-line text errors read "spec line L, column C: ..."; in one line "spec column C: ...".
struct SpecExpr {
  enum class Kind { layer, name, branches, chain, model };
  Kind kind = Kind::layer;
  Call call;                    // layer: the call; model: Model's own keyword arguments (name=...)
  std::string name;             // name: the variable
  std::vector<SpecExpr> items;  // layer: the argument it is called on (none or one); branches, chain: the parts;
                                // model: inputs, outputs
  int line = 1, column = 1;
};
struct SpecStatement {
  std::string target;  // empty for an expression statement
  SpecExpr expr;
  int line = 1, column = 1;
};
std::vector<SpecStatement> parse_program(std::string_view text);

}  // namespace locnet
