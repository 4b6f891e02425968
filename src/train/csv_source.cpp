// csv_dataset (train/sources.hpp): an RFC 4180 table read into memory, features one-hot encoded where categorical.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"
#include "locnet/train/sources.hpp"

namespace locnet {
namespace {

using Row = std::vector<std::string>;

// Records of an RFC 4180 text: fields split at commas, quoted fields may hold commas, newlines and "" (a quote).
std::vector<Row> parse_csv(std::string_view s, const std::string& path) {
  std::vector<Row> rows;
  Row row;
  std::string field;
  size_t i = 0;
  bool quoted = false, any = false;  // any: the record has begun
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    quoted = false;
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' && field.empty() && !quoted) {  // a quoted field
      const size_t start = i++;
      for (;;) {
        if (i >= s.size())
          raise<FormatError>("{}: row {}: the quoted field starting at byte {} must end with a quote, got the end of "
                             "the file", path, rows.size() + 1, start);
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += s[i++];
      }
      quoted = any = true;
      if (i < s.size() && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
        raise<FormatError>("{}: row {}: a quoted field must be followed by a comma or the end of the line",
                           path, rows.size() + 1);
      continue;
    }
    if (c == ',') {
      end_field();
      any = true;
      ++i;
    } else if (c == '\n' || c == '\r') {
      i += (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
      if (!any && field.empty()) continue;  // blank lines are skipped
      end_field();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field += c;
      any = true;
      ++i;
    }
  }
  if (any || !field.empty()) {
    end_field();
    rows.push_back(std::move(row));
  }
  return rows;
}

bool is_missing(std::string_view v) {
  return v.empty() || v == "NA" || v == "N/A" || v == "NaN" || v == "nan" || v == "null";
}

std::optional<double> number(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// One column: numeric values, or the categories (sorted) and each row's index among them.
struct Column {
  std::string name;
  bool numeric = true;
  std::vector<double> values;
  std::vector<std::string> categories;
  std::vector<int64_t> codes;
  int64_t width() const { return numeric ? 1 : int64_t(categories.size()); }
};

// One-hot features per categorical column: more is most likely an identifier column, whose encoding (rows x
// categories) could exhaust memory.
constexpr size_t kMaxCategories = 1024;

Column read_column(const std::vector<Row>& rows, size_t c, const std::string& path, bool is_target) {
  Column col{rows[0][c]};
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::string& v = rows[r][c];
    if (is_missing(v))
      raise<FormatError>("{}: row {}, column '{}': a value is missing (got '{}'); fill or drop it", path, r + 1,
                         col.name, v);
    if (col.numeric) {
      if (auto d = number(v)) col.values.push_back(*d);
      else col.numeric = false;
    }
  }
  if (col.numeric) return col;
  std::map<std::string, int64_t> index;
  for (size_t r = 1; r < rows.size(); ++r) index.emplace(rows[r][c], 0);
  if (!is_target && index.size() > kMaxCategories)
    raise<FormatError>("{}: column '{}' must have at most {} distinct non-numeric values to be one-hot encoded, got "
                       "{} (an identifier? drop it)", path, col.name, kMaxCategories, index.size());
  for (auto& [name, code] : index) {  // std::map: sorted, so the encoding does not depend on the row order
    code = int64_t(col.categories.size());
    col.categories.push_back(name);
  }
  for (size_t r = 1; r < rows.size(); ++r) col.codes.push_back(index[rows[r][c]]);
  col.values.clear();
  return col;
}

}  // namespace

std::shared_ptr<Dataset> csv_dataset(const std::string& path, const std::vector<std::string>& targets) {
  const std::vector<std::byte> bytes = read_file(path, max_tensor_bytes());
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark (Excel writes one)
  const std::vector<Row> rows = parse_csv(text, path);
  if (rows.size() < 2) raise<FormatError>("{}: must hold a header row and at least one data row, got {} rows", path,
                                          rows.size());
  const size_t width = rows[0].size();
  for (size_t r = 1; r < rows.size(); ++r)
    if (rows[r].size() != width)
      raise<FormatError>("{}: row {} must have {} fields (as the header), got {}", path, r + 1, width, rows[r].size());
  std::vector<size_t> target_cols;
  for (const std::string& t : targets.empty() ? std::vector<std::string>{rows[0].back()} : targets) {
    auto it = std::find(rows[0].begin(), rows[0].end(), t);
    if (it == rows[0].end()) raise<FormatError>("{}: the header must name the target column '{}'", path, t);
    target_cols.push_back(size_t(it - rows[0].begin()));
  }
  if (target_cols.size() >= width) raise<FormatError>("{}: at least one column must be a feature, got none", path);
  std::vector<Column> features, outs;
  for (size_t c = 0; c < width; ++c) {
    const bool is_target = std::find(target_cols.begin(), target_cols.end(), c) != target_cols.end();
    if (!is_target) features.push_back(read_column(rows, c, path, false));
  }
  for (size_t c : target_cols) outs.push_back(read_column(rows, c, path, true));

  const int64_t n = int64_t(rows.size()) - 1;
  int64_t f = 0;
  for (const Column& col : features) f += col.width();
  Tensor x(Shape{n, f});
  float* px = x.data<float>();
  int64_t at = 0;
  for (const Column& col : features) {
    for (int64_t r = 0; r < n; ++r) {
      if (col.numeric) px[r * f + at] = float(col.values[size_t(r)]);
      else px[r * f + at + col.codes[size_t(r)]] = 1.0f;
    }
    at += col.width();
  }
  if (outs.size() == 1) {
    const Column& t = outs[0];
    if (!t.numeric) return tensor_dataset(x, t.codes, int64_t(t.categories.size()), t.categories);
    if (std::all_of(t.values.begin(), t.values.end(), [](double v) { return v >= 0 && v < 1e9 && v == std::floor(v); }))
      return tensor_dataset(x, std::vector<int64_t>(t.values.begin(), t.values.end()));
  }
  Tensor y(Shape{n, int64_t(outs.size())});
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].numeric)
      raise<FormatError>("{}: target column '{}' must be numeric when there are several targets, got '{}'", path,
                         outs[k].name, outs[k].categories.front());
    for (int64_t r = 0; r < n; ++r)
      y.data<float>()[r * int64_t(outs.size()) + int64_t(k)] = float(outs[k].values[size_t(r)]);
  }
  return tensor_dataset(x, y);
}

}  // namespace locnet
