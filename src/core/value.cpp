#include "locnet/core/value.hpp"

#include <fmt/format.h>

#include <cmath>

namespace locnet {

Value::Value(Call c) : kind_(Kind::Call), call_(std::make_shared<const Call>(std::move(c))) {}

Value Value::tuple(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Tuple;
  v.items_ = std::move(items);
  return v;
}

namespace {
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string Value::repr() const {
  switch (kind_) {
    case Kind::None: return "None";
    case Kind::Bool: return i_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: {
      if (std::isnan(d_)) return "nan";
      if (std::isinf(d_)) return d_ > 0 ? "inf" : "-inf";
      std::string s = fmt::format("{}", d_);  // shortest text that reads back to the same double
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      return s;
    }
    case Kind::Str: return quote(s_);
    case Kind::Tuple: {
      std::string s = "(";
      for (size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + items_[i].repr();
      if (items_.size() == 1) s += ",";
      return s + ")";
    }
    case Kind::Call: return call_->repr();
  }
  return "?";
}

std::string Value::kind_name() const {
  switch (kind_) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "string";
    case Kind::Tuple: return "tuple";
    case Kind::Call: return "call";
  }
  return "?";
}

bool Value::operator==(const Value& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::None: return true;
    case Kind::Bool:
    case Kind::Int: return i_ == o.i_;
    case Kind::Float: return d_ == o.d_ || (std::isnan(d_) && std::isnan(o.d_));
    case Kind::Str: return s_ == o.s_;
    case Kind::Tuple: return items_ == o.items_;
    case Kind::Call: return *call_ == *o.call_;
  }
  return false;
}

const Value* Call::kwarg(std::string_view key) const {
  for (const auto& [k, v] : kwargs)
    if (k == key) return &v;
  return nullptr;
}

std::string Call::repr() const {
  std::string s = type + "(";
  bool first = true;
  for (const auto& a : args) {
    s += (first ? "" : ", ") + a.repr();
    first = false;
  }
  for (const auto& [k, v] : kwargs) {
    s += (first ? "" : ", ") + k + "=" + v.repr();
    first = false;
  }
  return s + ")";
}

}  // namespace locnet
