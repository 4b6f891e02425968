// Value: a literal of the layer-spec language (Python-call syntax): None, True/False, integers, floats,
// strings, tuples and calls such as L2(1e-4). Values remember the column they were parsed at so that errors
// can point at the text the user typed. repr() prints them back as Python would.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace locnet {

struct Call;

class Value {
 public:
  enum class Kind { None, Bool, Int, Float, Str, Tuple, Call };

  Value() = default;
  Value(bool b) : kind_(Kind::Bool), i_(b) {}
  Value(int v) : kind_(Kind::Int), i_(v) {}
  Value(int64_t v) : kind_(Kind::Int), i_(v) {}
  Value(double v) : kind_(Kind::Float), d_(v) {}
  Value(std::string s) : kind_(Kind::Str), s_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::Str), s_(s) {}
  Value(Call c);
  static Value tuple(std::vector<Value> items);

  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::None; }
  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_double() const { return kind_ == Kind::Int ? double(i_) : d_; }
  const std::string& as_str() const { return s_; }
  const std::vector<Value>& items() const { return items_; }
  const Call& call() const { return *call_; }

  std::string repr() const;
  std::string kind_name() const;  // "None", "bool", "int", "float", "string", "tuple", "call"
  bool operator==(const Value& o) const;

  int column = -1;  // 1-based column in the parsed text, -1 when built in code

 private:
  Kind kind_ = Kind::None;
  int64_t i_ = 0;
  double d_ = 0.0;
  std::string s_;
  std::vector<Value> items_;
  std::shared_ptr<const Call> call_;
};

// A call in the spec language: Type(positional..., keyword=value...).
struct Call {
  std::string type;
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  int column = -1;
  int line = 0;  // 1-based line in a multi-line spec, 0 when unknown

  const Value* kwarg(std::string_view key) const;
  std::string repr() const;
  // Where a call was parsed is not part of what it is (as for Value).
  bool operator==(const Call& o) const { return type == o.type && args == o.args && kwargs == o.kwargs; }
};

}  // namespace locnet
