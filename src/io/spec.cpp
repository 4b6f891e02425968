#include "locnet/io/spec.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "locnet/core/error.hpp"

namespace locnet {
namespace {

constexpr int kMaxDepth = 64;  // nesting of tuples and calls; deeper text is rejected, not recursed into

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text), multiline_(text.find('\n') != std::string_view::npos) {}

  std::vector<Call> chain() {
    std::vector<Call> calls;
    skip_space();
    if (at_end()) fail("a layer call such as Dense(10)", "the end of the text");
    for (;;) {
      Value v = value(0);
      if (v.kind() != Value::Kind::Call) fail_at(v.column, "a layer call such as Dense(10)", v.kind_name() + " " + v.repr());
      calls.push_back(v.call());
      skip_space();
      if (at_end()) break;
      if (!consume(">>")) fail("'>>' or the end of the text", describe_here());
    }
    return calls;
  }

  std::vector<SpecStatement> program() {
    std::vector<SpecStatement> out;
    for (;;) {
      skip_space();  // blank lines and comments between statements
      while (consume(";")) skip_space();
      if (at_end()) break;
      SpecStatement st;
      st.line = line_;
      st.column = column();
      size_t save = pos_;
      int save_line = line_;
      size_t save_start = line_start_;
      if (is_name_start()) {
        std::string id = identifier();
        skip_blank();
        if (!at_end() && s_[pos_] == '=' && s_.substr(pos_, 2) != "==") {
          ++pos_;
          st.target = std::move(id);
        } else {
          pos_ = save;
          line_ = save_line;
          line_start_ = save_start;
        }
      }
      st.expr = expr(0);
      out.push_back(std::move(st));
      skip_blank();
      if (at_end()) break;
      if (s_[pos_] == '\n' || s_[pos_] == ';') continue;
      fail(multiline_ ? "'>>', a new line or the end of the text" : "'>>' or the end of the text", describe_here());
    }
    if (out.empty()) fail("a layer call such as Dense(10)", "the end of the text");
    return out;
  }

  Value single() {
    Value v = value(0);
    skip_space();
    if (!at_end()) fail("the end of the text", describe_here());
    return v;
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  int column() const { return int(pos_ - line_start_) + 1; }
  bool is_name_start() const {
    return !at_end() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_');
  }
  // Spaces, new lines and comments.
  void skip_space() {
    for (;;) {
      skip_blank();
      if (at_end() || s_[pos_] != '\n') return;
      ++pos_;
      ++line_;
      line_start_ = pos_;
    }
  }
  // Spaces and a comment, up to the end of the line.
  void skip_blank() {
    while (!at_end() && s_[pos_] != '\n' && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (!at_end() && s_[pos_] == '#')
      while (!at_end() && s_[pos_] != '\n') ++pos_;
  }

  // expr := term ('>>' term)*; a '>>' on the next line continues the chain.
  SpecExpr expr(int depth) {
    if (depth > kMaxDepth) fail(fmt::format("at most {} levels of nesting", kMaxDepth), "deeper nesting");
    SpecExpr first = term(depth);
    SpecExpr chain{SpecExpr::Kind::chain, {}, {}, {}, first.line, first.column};
    chain.items.push_back(std::move(first));
    for (;;) {
      size_t save = pos_;
      int save_line = line_;
      size_t save_start = line_start_;
      skip_space();
      if (!consume(">>")) {
        pos_ = save;
        line_ = save_line;
        line_start_ = save_start;
        break;
      }
      chain.items.push_back(term(depth));
    }
    return chain.items.size() == 1 ? std::move(chain.items[0]) : std::move(chain);
  }

  SpecExpr term(int depth) {
    skip_space();
    SpecExpr t;
    t.line = line_;
    t.column = column();
    if (!at_end() && s_[pos_] == '[') {
      ++pos_;
      t.kind = SpecExpr::Kind::branches;
      for (;;) {
        skip_space();
        if (consume("]")) break;
        t.items.push_back(expr(depth + 1));
        skip_space();
        if (consume(",")) continue;
        if (consume("]")) break;
        fail("',' or ']'", describe_here());
      }
      if (t.items.empty()) fail_at(t.column, "at least one branch in [...]", "[]");
      return t;
    }
    if (!is_name_start()) fail("a layer call such as Dense(10), a name or [branches]", describe_here());
    size_t save = pos_;
    std::string id = identifier();
    if (id == "Model" && consume("(")) return model_call(std::move(t), depth);
    skip_blank();
    if (at_end() || s_[pos_] != '(') {
      if (id == "None" || id == "True" || id == "False" || id.find('.') != std::string::npos)
        fail_at(t.column, "a layer call such as Dense(10), a name or [branches]", fmt::format("'{}'", id));
      t.kind = SpecExpr::Kind::name;
      t.name = std::move(id);
      return t;
    }
    pos_ = save;
    Value v = value(depth);
    if (v.kind() != Value::Kind::Call)  // True(3): a literal followed by '('
      fail_at(t.column, "a layer call such as Dense(10), a name or [branches]", v.repr());
    t.call = v.call();
    t.call.line = t.line;
    skip_blank();
    if (!at_end() && s_[pos_] == '(') {  // Conv2D(32, 3)(x) or Conv2D(32, 3) (x): the layer called on its input
      ++pos_;
      t.items.push_back(expr(depth + 1));
      skip_space();
      if (!consume(")")) fail("')'", describe_here());
    }
    return t;
  }

  // Model(inputs, outputs, name=...) with inputs and outputs as positional or keyword arguments.
  SpecExpr model_call(SpecExpr t, int depth) {
    t.kind = SpecExpr::Kind::model;
    t.call = Call{"Model", {}, {}, t.column};
    t.call.line = t.line;
    std::optional<SpecExpr> parts[2];
    for (size_t positional = 0;;) {
      skip_space();
      if (consume(")")) break;
      size_t save = pos_;
      std::string key;
      if (is_name_start()) {
        key = identifier();
        skip_space();
        if (at_end() || s_[pos_] != '=' || s_.substr(pos_, 2) == "==") key.clear(), pos_ = save;
        else ++pos_;
      }
      if (key == "name") {
        t.call.kwargs.emplace_back(key, value(depth + 1));
      } else {
        const int slot = key == "inputs" ? 0 : key == "outputs" ? 1 : key.empty() ? int(positional++) : -1;
        if (slot < 0 || slot > 1)
          fail_at(int(save - line_start_) + 1, "Model(inputs, outputs, name=None)",
                  key.empty() ? std::string("a third positional argument") : fmt::format("argument '{}'", key));
        if (parts[slot]) fail_at(int(save - line_start_) + 1, "each of inputs and outputs once", "it twice");
        parts[slot] = expr(depth + 1);
      }
      skip_space();
      if (consume(",")) continue;
      if (consume(")")) break;
      fail("',' or ')'", describe_here());
    }
    for (int k = 0; k < 2; ++k)
      if (!parts[k]) fail_at(t.column, "Model(inputs=..., outputs=...)", fmt::format("no {}", k ? "outputs" : "inputs"));
    t.items = {std::move(*parts[0]), std::move(*parts[1])};
    return t;
  }
  bool consume(std::string_view tok) {
    skip_space();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  std::string describe_here() const {
    if (at_end()) return "the end of the text";
    return fmt::format("'{}'", s_.substr(pos_, std::min<size_t>(12, s_.size() - pos_)));
  }
  [[noreturn]] void fail(std::string_view expected, std::string_view got) const { fail_at(column(), expected, got); }
  [[noreturn]] void fail_at(int col, std::string_view expected, std::string_view got) const {
    if (multiline_) raise<ConfigError>("spec line {}, column {}: expected {}, got {}", line_, col, expected, got);
    raise<ConfigError>("spec column {}: expected {}, got {}", col, expected, got);
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail(fmt::format("at most {} levels of nesting", kMaxDepth), "deeper nesting");
    skip_space();
    if (at_end()) fail("a value", "the end of the text");
    int col = column();
    char c = s_[pos_];
    Value v;
    if (c == '(' || c == '[') {
      v = sequence(depth, c == '(' ? ')' : ']');
    } else if (c == '"' || c == '\'') {
      v = Value(string_literal());
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      v = number();
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string id = identifier();
      if (id == "None")
        v = Value();
      else if (id == "True")
        v = Value(true);
      else if (id == "False")
        v = Value(false);
      else if (consume("("))
        v = Value(call_args(std::move(id), col, depth));
      else
        fail_at(col, "a value (number, string, tuple, None, True, False or a call)", fmt::format("name '{}'", id));
    } else {
      fail("a value", describe_here());
    }
    v.column = col;
    return v;
  }

  Value sequence(int depth, char close) {
    ++pos_;
    std::vector<Value> items;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (!at_end() && s_[pos_] == close) {
        ++pos_;
        break;
      }
      items.push_back(value(depth + 1));
      trailing_comma = false;
      skip_space();
      if (consume(",")) {
        trailing_comma = true;
        continue;
      }
      if (!at_end() && s_[pos_] == close) {
        ++pos_;
        break;
      }
      fail(fmt::format("',' or '{}'", close), describe_here());
    }
    // (x) is a parenthesised value in Python, (x,) a tuple.
    if (close == ')' && items.size() == 1 && !trailing_comma) return items[0];
    return Value::tuple(std::move(items));
  }

  Call call_args(std::string type, int col, int depth) {
    Call call{std::move(type), {}, {}, col};
    for (;;) {
      skip_space();
      if (consume(")")) break;
      // keyword argument?
      size_t save = pos_;
      if (!at_end() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
        std::string key = identifier();
        skip_space();
        if (!at_end() && s_[pos_] == '=' && s_.substr(pos_, 2) != "==") {
          ++pos_;
          if (call.kwarg(key)) fail_at(int(save) + 1, "each keyword argument once", fmt::format("'{}' twice", key));
          call.kwargs.emplace_back(key, value(depth + 1));
          goto next;
        }
        pos_ = save;
      }
      if (!call.kwargs.empty()) fail("a keyword argument (positional arguments come first)", describe_here());
      call.args.push_back(value(depth + 1));
    next:
      skip_space();
      if (consume(",")) continue;
      if (consume(")")) break;
      fail("',' or ')'", describe_here());
    }
    return call;
  }

  std::string identifier() {
    size_t b = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || s_[pos_] == '.'))
      ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }

  std::string string_literal() {
    char q = s_[pos_++];
    std::string out;
    for (;;) {
      if (at_end()) fail(fmt::format("a closing {}", q), "the end of the text");
      char c = s_[pos_++];
      if (c == q) break;
      if (c == '\\') {
        if (at_end()) fail("an escaped character", "the end of the text");
        char e = s_[pos_++];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        continue;
      }
      out += c;
    }
    return out;
  }

  Value number() {
    size_t b = pos_;
    if (s_[pos_] == '+' || s_[pos_] == '-') ++pos_;
    bool is_float = false;
    while (!at_end()) {
      char c = s_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '_') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        ++pos_;
        if ((c == 'e' || c == 'E') && !at_end() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      } else {
        break;
      }
    }
    std::string text;
    for (char c : s_.substr(b, pos_ - b))
      if (c != '_') text += c;
    if (!is_float) {
      int64_t v = 0;
      const char* first = text.data() + (text[0] == '+');
      auto [p, ec] = std::from_chars(first, text.data() + text.size(), v);
      if (ec == std::errc::result_out_of_range) fail_at(int(b) + 1, "an integer that fits in 64 bits", text);
      if (ec != std::errc() || p != text.data() + text.size()) fail_at(int(b) + 1, "a number", fmt::format("'{}'", text));
      return Value(v);
    }
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || text == "." || text == "-." || text == "+.")
      fail_at(int(b) + 1, "a number", fmt::format("'{}'", text));
    if (!std::isfinite(d)) fail_at(int(b) + 1, "a finite number", text);
    return Value(d);
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool multiline_ = false;
  int line_ = 1;
  size_t line_start_ = 0;  // offset of the current line's first character
};

}  // namespace

Value parse_value(std::string_view text) { return Parser(text).single(); }

std::vector<Call> parse_chain(std::string_view text) { return Parser(text).chain(); }

std::vector<SpecStatement> parse_program(std::string_view text) { return Parser(text).program(); }

}  // namespace locnet
