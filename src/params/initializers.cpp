#include "locnet/params/initializers.hpp"

#include <cctype>
#include <cmath>
#include <optional>

#include "locnet/core/catalog.hpp"
#include "locnet/core/config.hpp"

namespace locnet {
namespace {

// Keras's VarianceScaling divides by the stddev of a unit normal truncated to [-2, 2].
constexpr double kTruncatedStd = 0.87962566103423978;

// Keras's constructor arguments, in its positional order.
struct NoArgs {
  template <class Self, class V>
  static void fields(Self&, V&&) {}
};
constexpr const char* kSeedDoc = "Seed of this initializer's own random stream; None uses the model's.";
struct SeedArgs {
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.seed, Field{"seed", kSeedDoc});
  }
};
struct ConstantArgs {
  double value = 0.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.value, Field{"value", "The value of every element."});
  }
};
struct NormalArgs {
  double mean = 0.0, stddev = 0.05;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.mean, Field{"mean", "Mean."});
    v(s.stddev, Field{"stddev", "Standard deviation (before truncation)."});
    v(s.seed, Field{"seed", kSeedDoc});
  }
};
struct UniformArgs {
  double minval = -0.05, maxval = 0.05;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.minval, Field{"minval", "Lower bound."});
    v(s.maxval, Field{"maxval", "Upper bound."});
    v(s.seed, Field{"seed", kSeedDoc});
  }
};
struct ScalingArgs {
  double scale = 1.0;
  std::string mode = "fan_in", distribution = "truncated_normal";
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.scale, Field{"scale", "Variance scale, > 0."});
    v(s.mode, Field{"mode", "\"fan_in\", \"fan_out\" or \"fan_avg\"."});
    v(s.distribution, Field{"distribution", "\"truncated_normal\", \"untruncated_normal\" or \"uniform\"."});
    v(s.seed, Field{"seed", kSeedDoc});
  }
};
struct OrthogonalArgs {
  double gain = 1.0;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.gain, Field{"gain", "Factor applied to the orthogonal matrix."});
    v(s.seed, Field{"seed", kSeedDoc});
  }
};

enum class Draw { constant, normal, uniform, truncated, scaling, orthogonal };
// A parsed initializer: what initialize() draws from, and the call that rebuilds it.
struct Init : CatalogObject {
  Draw draw = Draw::constant;
  double a = 0.0, b = 0.0;  // value | mean, stddev | minval, maxval | scale | gain
  std::string mode, distribution;
  std::optional<int64_t> seed;
  Call spec;
  Call config() const override { return spec; }
};

// "HeNormal", "he_normal" and "henormal" are the same name.
std::string key_of(std::string_view name) {
  std::string k;
  for (char c : name)
    if (c != '_') k += char(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

// ConfigError "<name> <what> must be ..." (the reader puts the argument in front) for values out of range.
void check(const Init& r, const std::string& name, const Call& call) {
  auto bad = [&](std::string_view what, std::string_view expected, const auto& got) {
    raise<ConfigError>("{} {} must be {}, got {}", name, what, expected, got);
  };
  if (!std::isfinite(r.a) || !std::isfinite(r.b)) bad("arguments", "finite numbers", call.repr());
  if (r.seed && *r.seed < 0) bad("seed", "None or an integer >= 0", *r.seed);
  if ((r.draw == Draw::normal || r.draw == Draw::truncated) && r.b < 0) bad("stddev", ">= 0", r.b);
  if (r.draw == Draw::uniform && r.a > r.b) bad("minval", fmt::format("<= maxval ({})", r.b), r.a);
  if (r.draw == Draw::scaling) {
    if (r.a <= 0) bad("scale", "> 0", r.a);
    if (r.mode != "fan_in" && r.mode != "fan_out" && r.mode != "fan_avg")
      bad("mode", "\"fan_in\", \"fan_out\" or \"fan_avg\"", fmt::format("\"{}\"", r.mode));
    if (r.distribution != "truncated_normal" && r.distribution != "untruncated_normal" && r.distribution != "uniform")
      bad("distribution", "\"truncated_normal\", \"untruncated_normal\" or \"uniform\"",
          fmt::format("\"{}\"", r.distribution));
  }
}

// An initializer entry: its Args fill an Init through to_init(args, init), which sets draw, a, b, mode, ...
template <class Args, class ToInit>
CatalogEntry initializer(const char* name, const char* alias, const char* doc, ToInit to_init) {
  return declare<Args>(Kind::initializer, {name, {alias}, doc, {}}, [name, to_init](Args args, const Call& call) {
    auto r = std::make_unique<Init>();
    to_init(args, *r);
    check(*r, call.type, call);
    r->spec = Call{name, {}, config_values(args), -1};
    return r;
  });
}

// The Keras shortcuts for VarianceScaling (glorot_uniform, he_normal, ...): only a seed.
CatalogEntry scaling(const char* name, const char* alias, const char* doc, double scale, const char* mode,
                     const char* distribution) {
  return initializer<SeedArgs>(name, alias, doc, [=](const SeedArgs& a, Init& r) {
    r.draw = Draw::scaling, r.a = scale, r.mode = mode, r.distribution = distribution, r.seed = a.seed;
  });
}

const Init& parse(const Value& v, std::string_view where, std::unique_ptr<CatalogObject>& holder) {
  holder = catalog().read(Kind::initializer, v, where);
  return static_cast<const Init&>(*holder);
}

std::unique_ptr<CatalogObject> read_initializer(const Catalog& c, const Value& v, std::string_view where) {
  const Call* call = v.kind() == Value::Kind::Call ? &v.call() : nullptr;
  if (v.kind() != Value::Kind::Str && !call)
    raise<ConfigError>("{} must be an initializer name or call, one of {}, got {} {}", where,
                       fmt::join(c.names(Kind::initializer), ", "), v.kind_name(), v.repr());
  const std::string name = call ? call->type : v.as_str();
  const std::string key = key_of(name);
  for (const CatalogEntry* e : c.entries(Kind::initializer)) {
    bool named = key_of(e->name) == key;
    for (const auto& alias : e->aliases) named = named || key_of(alias) == key;
    if (!named) continue;
    try {
      return e->make(call ? *call : Call{name, {}, {}, -1});
    } catch (const ConfigError& err) {
      std::string msg = err.what();
      if (msg.starts_with(where)) throw;
      raise<ConfigError>("{}: {}", where, msg);  // the messages name the call, not the argument
    }
  }
  raise<ConfigError>("{} must be one of {} (a name or a call such as RandomNormal(stddev=0.1)), got '{}'", where,
                     fmt::join(c.names(Kind::initializer), ", "), name);
}

// Q of the QR of a normal (m, n) matrix, m >= n, with R's diagonal positive: Gram-Schmidt, each column
// orthogonalised twice so that the result is orthogonal to rounding. Column-major: q[j * m + i].
std::vector<double> orthonormal_columns(int64_t m, int64_t n, Rng& rng) {
  std::vector<double> q(size_t(m * n));
  for (double& x : q) x = rng.normal();
  for (int64_t j = 0; j < n; ++j) {
    double* col = &q[size_t(j * m)];
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < j; ++k) {
        const double* prev = &q[size_t(k * m)];
        double dot = 0.0;
        for (int64_t i = 0; i < m; ++i) dot += prev[i] * col[i];
        for (int64_t i = 0; i < m; ++i) col[i] -= dot * prev[i];
      }
    double norm = 0.0;
    for (int64_t i = 0; i < m; ++i) norm += col[i] * col[i];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) col[i] /= norm;
  }
  return q;
}

}  // namespace

std::vector<std::string> initializer_names() { return catalog().names(Kind::initializer); }

void check_initializer(const Value& init, std::string_view where) {
  (void)catalog().read(Kind::initializer, init, where);
}

std::pair<int64_t, int64_t> keras_fans(const Shape& shape) {
  const size_t r = shape.rank();
  if (r == 0) return {1, 1};
  if (r == 1) return {shape[0], shape[0]};
  int64_t rf = 1;
  for (size_t i = 0; i + 2 < r; ++i) rf *= shape[i];
  return {shape[r - 2] * rf, shape[r - 1] * rf};
}

void initialize(const Value& init, Tensor& t, Rng& model_rng, std::string_view where) {
  std::unique_ptr<CatalogObject> holder;
  const Init& in = parse(init, where, holder);
  Rng seeded(uint64_t(in.seed.value_or(0)));
  Rng& rng = in.seed ? seeded : model_rng;
  auto fill = [&](auto draw) {  // typed for f32/f64: a 100 MB kernel is drawn in well under a second
    if (t.is_contiguous() && (t.dtype() == DType::f32 || t.dtype() == DType::f64))
      return visit_float(t.dtype(), [&](auto v) {
        for (auto& x : t.span<decltype(v)>()) x = decltype(v)(draw());
      });
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, draw());
  };
  switch (in.draw) {
    case Draw::constant: t.fill(in.a); return;
    case Draw::normal: fill([&] { return rng.normal(in.a, in.b); }); return;
    case Draw::uniform: fill([&] { return rng.uniform(in.a, in.b); }); return;
    case Draw::truncated: fill([&] { return rng.truncated_normal(in.a, in.b); }); return;
    case Draw::scaling: {
      auto [fan_in, fan_out] = keras_fans(t.shape());
      double n = in.mode == "fan_in"    ? double(fan_in)
                 : in.mode == "fan_out" ? double(fan_out)
                                        : double(fan_in + fan_out) / 2.0;
      double var = in.a / std::max(1.0, n);
      if (in.distribution == "uniform") {
        double limit = std::sqrt(3.0 * var);
        fill([&] { return rng.uniform(-limit, limit); });
      } else if (in.distribution == "untruncated_normal") {
        fill([&] { return rng.normal(0.0, std::sqrt(var)); });
      } else {
        fill([&] { return rng.truncated_normal(0.0, std::sqrt(var) / kTruncatedStd); });
      }
      return;
    }
    case Draw::orthogonal: {
      if (t.rank() < 2)
        raise<ConfigError>("{}: Orthogonal needs a tensor of rank >= 2 (as Keras), got shape {}", where,
                           t.shape().str());
      const int64_t cols = t.shape()[t.rank() - 1], rows = cols ? t.numel() / cols : 0;
      const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
      if (n == 0) return;
      std::vector<double> q = orthonormal_columns(m, n, rng);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)  // Q is (rows, cols) when tall, else Q^T is
          t.set(r * cols + c, in.a * (rows >= cols ? q[size_t(c * m + r)] : q[size_t(r * m + c)]));
      return;
    }
  }
}

std::vector<TypeDoc> initializer_docs() { return catalog().docs(Kind::initializer); }

void declare_initializers(Catalog& c) {
  auto constant = [](double value) { return [value](const NoArgs&, Init& r) { r.a = value; }; };
  c.add(initializer<NoArgs>("zeros", "Zeros", "All 0.", constant(0.0)));
  c.add(initializer<NoArgs>("ones", "Ones", "All 1.", constant(1.0)));
  c.add(initializer<ConstantArgs>("constant", "Constant", "All equal to value.",
                                  [](const ConstantArgs& a, Init& r) { r.a = a.value; }));
  auto normal = [](Draw draw) {
    return [draw](const NormalArgs& a, Init& r) { r.draw = draw, r.a = a.mean, r.b = a.stddev, r.seed = a.seed; };
  };
  c.add(initializer<NormalArgs>("random_normal", "RandomNormal", "N(mean, stddev).", normal(Draw::normal)));
  c.add(initializer<UniformArgs>("random_uniform", "RandomUniform", "U(minval, maxval).",
                                 [](const UniformArgs& a, Init& r) {
                                   r.draw = Draw::uniform, r.a = a.minval, r.b = a.maxval, r.seed = a.seed;
                                 }));
  c.add(initializer<NormalArgs>("truncated_normal", "TruncatedNormal", "N(mean, stddev), redrawn beyond 2 stddev.",
                                normal(Draw::truncated)));
  c.add(initializer<ScalingArgs>(
      "variance_scaling", "VarianceScaling",
      "Variance scale / n, n = fan_in, fan_out or their mean: truncated_normal (stddev divided by 0.8796...), "
      "untruncated_normal or uniform (Keras).",
      [](const ScalingArgs& a, Init& r) {
        r.draw = Draw::scaling, r.a = a.scale, r.mode = a.mode, r.seed = a.seed;
        r.distribution = a.distribution == "normal" ? "truncated_normal" : a.distribution;
      }));
  c.add(scaling("glorot_uniform", "GlorotUniform",
                "U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel initializer).", 1.0, "fan_avg",
                "uniform"));
  c.add(scaling("glorot_normal", "GlorotNormal", "Truncated normal with variance 2 / (fan_in + fan_out) (Keras).", 1.0,
                "fan_avg", "truncated_normal"));
  c.add(scaling("he_uniform", "HeUniform", "U(-l, l), l = sqrt(6 / fan_in).", 2.0, "fan_in", "uniform"));
  c.add(scaling("he_normal", "HeNormal", "Truncated normal with variance 2 / fan_in (Keras).", 2.0, "fan_in",
                "truncated_normal"));
  c.add(scaling("lecun_uniform", "LecunUniform", "U(-l, l), l = sqrt(3 / fan_in).", 1.0, "fan_in", "uniform"));
  c.add(scaling("lecun_normal", "LecunNormal", "Truncated normal with variance 1 / fan_in (Keras).", 1.0, "fan_in",
                "truncated_normal"));
  c.add(initializer<OrthogonalArgs>(
      "orthogonal", "Orthogonal",
      "gain times an orthogonal matrix (Q of the QR of a normal one) for the tensor as (prod(shape[:-1]), "
      "shape[-1]); rank >= 2 (Keras).",
      [](const OrthogonalArgs& a, Init& r) { r.draw = Draw::orthogonal, r.a = a.gain, r.seed = a.seed; }));
  c.set_reader(Kind::initializer,
               [&c](const Value& v, std::string_view where) { return read_initializer(c, v, where); });
}

}  // namespace locnet
