#include "locnet/params/initializers.hpp"

#include <cctype>
#include <cmath>
#include <optional>

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
struct SeedArgs {
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.seed, Field{"seed", "Seed of this initializer's own random stream; None uses the model's."});
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
    v(s.seed, Field{"seed", "Seed of this initializer's own random stream; None uses the model's."});
  }
};
struct UniformArgs {
  double minval = -0.05, maxval = 0.05;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.minval, Field{"minval", "Lower bound."});
    v(s.maxval, Field{"maxval", "Upper bound."});
    v(s.seed, Field{"seed", "Seed of this initializer's own random stream; None uses the model's."});
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
    v(s.seed, Field{"seed", "Seed of this initializer's own random stream; None uses the model's."});
  }
};
struct OrthogonalArgs {
  double gain = 1.0;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.gain, Field{"gain", "Factor applied to the orthogonal matrix."});
    v(s.seed, Field{"seed", "Seed of this initializer's own random stream; None uses the model's."});
  }
};

enum class Kind { constant, normal, uniform, truncated, scaling, orthogonal };
struct Init {
  Kind kind = Kind::constant;
  double a = 0.0, b = 0.0;  // value | mean, stddev | minval, maxval | scale | gain
  std::string mode, distribution;
  std::optional<int64_t> seed;
};

// "HeNormal", "he_normal" and "henormal" are the same name.
std::string key_of(std::string_view name) {
  std::string k;
  for (char c : name)
    if (c != '_') k += char(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

Init parse(const Value& v, std::string_view where) {
  const Call* call = v.kind() == Value::Kind::Call ? &v.call() : nullptr;
  if (v.kind() != Value::Kind::Str && !call)
    raise<ConfigError>("{} must be an initializer name or call, one of {}, got {} {}", where,
                       fmt::join(initializer_names(), ", "), v.kind_name(), v.repr());
  const std::string name = call ? call->type : v.as_str();
  const std::string key = key_of(name);
  const Call empty{name, {}, {}, -1};
  auto args = [&](auto a) {
    assign_config(a, call ? *call : empty, {});
    return a;
  };
  auto scaling = [&](double scale, const char* mode, const char* distribution) {
    return Init{Kind::scaling, scale, 0.0, mode, distribution, args(SeedArgs{}).seed};
  };
  Init r;
  try {
    if (key == "zeros" || key == "ones") {
      args(NoArgs{});
      r = Init{Kind::constant, key == "ones" ? 1.0 : 0.0};
    } else if (key == "constant") {
      r = Init{Kind::constant, args(ConstantArgs{}).value};
    } else if (key == "randomnormal" || key == "truncatednormal") {
      NormalArgs a = args(NormalArgs{});
      r = Init{key == "randomnormal" ? Kind::normal : Kind::truncated, a.mean, a.stddev, {}, {}, a.seed};
    } else if (key == "randomuniform") {
      UniformArgs a = args(UniformArgs{});
      r = Init{Kind::uniform, a.minval, a.maxval, {}, {}, a.seed};
    } else if (key == "variancescaling") {
      ScalingArgs a = args(ScalingArgs{});
      r = Init{Kind::scaling, a.scale, 0.0, a.mode, a.distribution == "normal" ? "truncated_normal" : a.distribution,
               a.seed};
    } else if (key == "glorotuniform" || key == "glorotnormal") {
      r = scaling(1.0, "fan_avg", key == "glorotuniform" ? "uniform" : "truncated_normal");
    } else if (key == "heuniform" || key == "henormal") {
      r = scaling(2.0, "fan_in", key == "heuniform" ? "uniform" : "truncated_normal");
    } else if (key == "lecununiform" || key == "lecunnormal") {
      r = scaling(1.0, "fan_in", key == "lecununiform" ? "uniform" : "truncated_normal");
    } else if (key == "orthogonal") {
      OrthogonalArgs a = args(OrthogonalArgs{});
      r = Init{Kind::orthogonal, a.gain, 0.0, {}, {}, a.seed};
    } else {
      raise<ConfigError>("{} must be one of {} (a name or a call such as RandomNormal(stddev=0.1)), got '{}'", where,
                         fmt::join(initializer_names(), ", "), name);
    }
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    if (msg.starts_with(where)) throw;
    raise<ConfigError>("{}: {}", where, msg);  // assign_config's messages name the call, not the argument
  }
  auto bad = [&](std::string_view what, std::string_view expected, const auto& got) {
    raise<ConfigError>("{}: {} {} must be {}, got {}", where, name, what, expected, got);
  };
  if (!std::isfinite(r.a) || !std::isfinite(r.b)) bad("arguments", "finite numbers", v.repr());
  if (r.seed && *r.seed < 0) bad("seed", "None or an integer >= 0", *r.seed);
  if ((r.kind == Kind::normal || r.kind == Kind::truncated) && r.b < 0) bad("stddev", ">= 0", r.b);
  if (r.kind == Kind::uniform && r.a > r.b) bad("minval", fmt::format("<= maxval ({})", r.b), r.a);
  if (r.kind == Kind::scaling) {
    if (r.a <= 0) bad("scale", "> 0", r.a);
    if (r.mode != "fan_in" && r.mode != "fan_out" && r.mode != "fan_avg")
      bad("mode", "\"fan_in\", \"fan_out\" or \"fan_avg\"", fmt::format("\"{}\"", r.mode));
    if (r.distribution != "truncated_normal" && r.distribution != "untruncated_normal" && r.distribution != "uniform")
      bad("distribution", "\"truncated_normal\", \"untruncated_normal\" or \"uniform\"",
          fmt::format("\"{}\"", r.distribution));
  }
  return r;
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

std::vector<std::string> initializer_names() {
  std::vector<std::string> names;
  for (const TypeDoc& d : initializer_docs()) names.push_back(d.name);
  return names;
}

void check_initializer(const Value& init, std::string_view where) { (void)parse(init, where); }

std::pair<int64_t, int64_t> keras_fans(const Shape& shape) {
  const size_t r = shape.rank();
  if (r == 0) return {1, 1};
  if (r == 1) return {shape[0], shape[0]};
  int64_t rf = 1;
  for (size_t i = 0; i + 2 < r; ++i) rf *= shape[i];
  return {shape[r - 2] * rf, shape[r - 1] * rf};
}

void initialize(const Value& init, Tensor& t, Rng& model_rng, std::string_view where) {
  const Init in = parse(init, where);
  Rng seeded(uint64_t(in.seed.value_or(0)));
  Rng& rng = in.seed ? seeded : model_rng;
  auto fill = [&](auto draw) {
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, draw());
  };
  switch (in.kind) {
    case Kind::constant: t.fill(in.a); return;
    case Kind::normal: fill([&] { return rng.normal(in.a, in.b); }); return;
    case Kind::uniform: fill([&] { return rng.uniform(in.a, in.b); }); return;
    case Kind::truncated: fill([&] { return rng.truncated_normal(in.a, in.b); }); return;
    case Kind::scaling: {
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
    case Kind::orthogonal: {
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

std::vector<TypeDoc> initializer_docs() {
  const auto seed = describe_config<SeedArgs>();
  return {
      {"zeros", {"Zeros"}, "All 0.", {}},
      {"ones", {"Ones"}, "All 1.", {}},
      {"constant", {"Constant"}, "All equal to value.", describe_config<ConstantArgs>()},
      {"random_normal", {"RandomNormal"}, "N(mean, stddev).", describe_config<NormalArgs>()},
      {"random_uniform", {"RandomUniform"}, "U(minval, maxval).", describe_config<UniformArgs>()},
      {"truncated_normal", {"TruncatedNormal"}, "N(mean, stddev), redrawn beyond 2 stddev.",
       describe_config<NormalArgs>()},
      {"variance_scaling", {"VarianceScaling"},
       "Variance scale / n, n = fan_in, fan_out or their mean: truncated_normal (stddev divided by 0.8796...), "
       "untruncated_normal or uniform (Keras).",
       describe_config<ScalingArgs>()},
      {"glorot_uniform", {"GlorotUniform"},
       "U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel initializer).", seed},
      {"glorot_normal", {"GlorotNormal"}, "Truncated normal with variance 2 / (fan_in + fan_out) (Keras).", seed},
      {"he_uniform", {"HeUniform"}, "U(-l, l), l = sqrt(6 / fan_in).", seed},
      {"he_normal", {"HeNormal"}, "Truncated normal with variance 2 / fan_in (Keras).", seed},
      {"lecun_uniform", {"LecunUniform"}, "U(-l, l), l = sqrt(3 / fan_in).", seed},
      {"lecun_normal", {"LecunNormal"}, "Truncated normal with variance 1 / fan_in (Keras).", seed},
      {"orthogonal", {"Orthogonal"},
       "gain times an orthogonal matrix (Q of the QR of a normal one) for the tensor as (prod(shape[:-1]), "
       "shape[-1]); rank >= 2 (Keras).",
       describe_config<OrthogonalArgs>()}};
}

}  // namespace locnet
