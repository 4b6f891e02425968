#include "locnet/layers/batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "kernels/batch_norm/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/core/collective.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {
namespace {

void check_epsilon(const char* type, const char* name, double eps) {
  if (!std::isfinite(eps) || eps <= 0)
    raise<ConfigError>("{}: {} must be a finite number > 0, got {}", type, name, eps);
}
void check_fraction(const char* type, const char* name, double v) {
  if (!(v >= 0 && v <= 1)) raise<ConfigError>("{}: {} must be in [0, 1], got {}", type, name, v);
}
bool channels_last_of(const char* type, const std::string& data_format) {
  if (data_format != "channels_last" && data_format != "channels_first")
    raise<ConfigError>("{}: data_format must be \"channels_last\" or \"channels_first\", got \"{}\"", type,
                       data_format);
  return data_format == "channels_last";
}
bool relu_of(const char* type, const std::optional<std::string>& activation) {
  std::string a = activation.value_or("linear");
  if (a != "linear" && a != "relu")
    raise<ConfigError>("{}: activation must be None, \"linear\" or \"relu\" (fused), got \"{}\"", type, a);
  return a == "relu";
}
// Keras's axis: an int, or a list of one int (tf.keras); several axes are NotSupported.
int64_t keras_axis(const char* type, const Value& axis) {
  if (axis.kind() == Value::Kind::Tuple && axis.items().size() == 1 && axis.items()[0].kind() == Value::Kind::Int)
    return axis.items()[0].as_int();
  if (axis.kind() == Value::Kind::Tuple && axis.items().size() > 1)
    raise<NotSupported>("{}: axis must be one int here (normalizing over several axes is not supported), got {}",
                        type, axis.repr());
  if (axis.kind() != Value::Kind::Int)
    raise<ConfigError>("{}: axis must be an int (the channel axis, negative from the end), got {} {}", type,
                       axis.kind_name(), axis.repr());
  return axis.as_int();
}
// data_format: the layout, or nullopt where the convention derives it otherwise (Keras's axis).
BatchNormCanonical base(int rank, double eps, const char* type, const char* eps_name,
                        const std::optional<std::string>& activation, const std::optional<std::string>& data_format) {
  check_epsilon(type, eps_name, eps);
  BatchNormCanonical c;
  c.rank = rank;
  c.epsilon = eps;
  c.relu = relu_of(type, activation);
  if (data_format) c.channels_last = channels_last_of(type, *data_format);
  return c;
}

}  // namespace

template <int R>
BatchNormCanonical NumpyMlBatchNormConfig<R>::validate() const {
  BatchNormCanonical c = base(R, epsilon, kType, "epsilon", activation, data_format);
  c.sync = sync;
  check_fraction(kType, "momentum", momentum);
  c.old_weight = momentum;
  c.new_weight = 1.0 - momentum;  // as numpy-ml computes it
  c.gamma_uniform01 = true;
  c.file_names = {"scaler", "intercept", "running_mean", "running_var"};
  return c;
}

template <int R>
BatchNormCanonical PyTorchBatchNormConfig<R>::validate() const {
  BatchNormCanonical c = base(R, eps, kType, "eps", activation, data_format);
  c.sync = sync;
  if (num_features <= 0) raise<ConfigError>("{}: num_features must be a positive integer, got {}", kType, num_features);
  c.num_features = num_features;
  if (momentum) {
    check_fraction(kType, "momentum", *momentum);
    c.new_weight = *momentum;
    c.old_weight = 1.0 - *momentum;
  } else {
    c.update = BatchNormCanonical::Update::cumulative;
  }
  c.unbiased = true;
  c.single_value_error = true;
  c.has_gamma = c.has_beta = affine;
  c.running_stats = c.batches_tracked = track_running_stats;
  c.file_names = {"weight", "bias", "running_mean", "running_var"};
  return c;
}

template <int R>
BatchNormCanonical KerasBatchNormConfig<R>::validate() const {
  BatchNormCanonical c = base(R, epsilon, kType, "epsilon", activation, std::nullopt);
  c.sync = sync;
  check_fraction(kType, "momentum", momentum);
  c.old_weight = momentum;
  c.new_weight = 1.0 - momentum;
  const int64_t a = keras_axis(kType, axis);
  // R + 1 is the last axis of a channels_last input (1D: of (N, L, C)); the input's rank decides for any axis.
  const bool last_from_axis = a == -1 || a == R + 1;
  c.channels_last = data_format ? channels_last_of(kType, *data_format) : last_from_axis;
  if (data_format && a != -1 && a != (c.channels_last ? R + 1 : 1))
    raise<ConfigError>("{}: axis must agree with data_format \"{}\", got axis={}", kType, *data_format, a);
  if (!data_format || a != -1) c.axis = a;  // an explicit axis counts on any rank, not only R + 2
  c.any_rank = true;
  c.has_beta = center;
  c.has_gamma = scale;
  c.keras2_variance_scale = keras2_variance_scale;
  auto arg = [&](const char* name) { return fmt::format("{}: {}", kType, name); };
  check_initializer(beta_initializer, arg("beta_initializer"));
  check_initializer(gamma_initializer, arg("gamma_initializer"));
  check_initializer(moving_mean_initializer, arg("moving_mean_initializer"));
  check_initializer(moving_variance_initializer, arg("moving_variance_initializer"));
  c.beta_initializer = beta_initializer;
  c.gamma_initializer = gamma_initializer;
  c.moving_mean_initializer = moving_mean_initializer;
  c.moving_variance_initializer = moving_variance_initializer;
  c.beta_regularizer = make_regularizer(beta_regularizer, arg("beta_regularizer"));
  c.gamma_regularizer = make_regularizer(gamma_regularizer, arg("gamma_regularizer"));
  c.beta_constraint = make_constraint(beta_constraint, arg("beta_constraint"));
  c.gamma_constraint = make_constraint(gamma_constraint, arg("gamma_constraint"));
  return c;
}

template <int R>
BatchNormCanonical CaffeBatchNormConfig<R>::validate() const {
  BatchNormCanonical c = base(R, eps, kType, "eps", activation, data_format);
  c.sync = sync;
  check_fraction(kType, "moving_average_fraction", moving_average_fraction);
  c.update = BatchNormCanonical::Update::caffe;
  c.old_weight = moving_average_fraction;
  c.new_weight = 1;
  c.unbiased = true;
  c.has_gamma = c.has_beta = false;
  c.use_global_stats = use_global_stats;
  c.moving_variance_initializer = "zeros";  // Caffe's sums start at 0 and read as 0 while the normalizer is 0
  return c;
}

#define LOCNET_BN_INSTANTIATE(Config) \
  template struct Config<1>;          \
  template struct Config<2>;          \
  template struct Config<3>;
LOCNET_BN_INSTANTIATE(NumpyMlBatchNormConfig)
LOCNET_BN_INSTANTIATE(PyTorchBatchNormConfig)
LOCNET_BN_INSTANTIATE(KerasBatchNormConfig)
LOCNET_BN_INSTANTIATE(CaffeBatchNormConfig)
#undef LOCNET_BN_INSTANTIATE

BatchNormBase::BatchNormBase(BatchNormCanonical canonical, std::string name)
    : Layer(std::move(name)), c_(std::move(canonical)) {
  Param* named[] = {&gamma_, &beta_, &moving_mean_, &moving_variance_};
  for (size_t i = 0; i < 4; ++i)
    if (*c_.file_names[i]) named[i]->aliases = {c_.file_names[i]};
  batches_.counter = true;
}

int64_t BatchNormBase::axis_of(const Shape& s) const {
  const int64_t rank = int64_t(s.rank());
  if (!c_.axis) return c_.channels_last ? rank - 1 : 1;
  const int64_t a = *c_.axis < 0 ? *c_.axis + rank : *c_.axis;
  if (a < 1 || a >= rank)
    raise<ShapeError>("{}: axis {} must be a non-batch axis of the input (1 to {}, or -{} to -1), got shape {}",
                      where(), *c_.axis, rank - 1, rank - 1, s.str());
  return a;
}

int64_t BatchNormBase::channel_axis() const {
  if (!built())
    raise<ConfigError>("{}: the channel axis is known once the layer is built, got an unbuilt layer", where());
  return axis_of(input_shape());
}

Shape BatchNormBase::output_shape(const Shape& in) const {
  bool rank_ok = c_.any_rank    ? in.rank() >= 2
                 : c_.rank == 1 ? (in.rank() == 2 || in.rank() == 3)
                                : in.rank() == size_t(c_.rank + 2);
  if (!rank_ok)
    raise<ShapeError>("{}: input rank must be {}, got shape {}", where(),
                      c_.any_rank    ? std::string(">= 2")
                      : c_.rank == 1 ? std::string("2 (N, C) or 3 (N, L, C)")
                                     : std::to_string(c_.rank + 2),
                      in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0)
      raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  if (c_.num_features > 0 && channels(in) != c_.num_features)
    raise<ShapeError>("{}: the number of channels must be num_features = {}, got {} in shape {}", where(),
                      c_.num_features, channels(in), in.str());
  return in;
}

namespace {
// The input as (outer, C, inner) around the channel axis a: a last axis is the channels_last problem (n = N,
// S = the dims between), any other the channels_first one with n = outer = N * prod(dims before a), S = inner.
kernels::BatchNormProblem problem(const BatchNormCanonical& c, const Shape& s, int64_t a, DType dt) {
  kernels::BatchNormProblem p;
  const size_t ax = size_t(a);
  int64_t before = 1, after = 1;
  for (size_t i = 1; i < ax; ++i) before *= s[i];
  for (size_t i = ax + 1; i < s.rank(); ++i) after *= s[i];
  p.channels_last = ax + 1 == s.rank();
  p.n = (s[0] < 0 ? 1 : s[0]) * (p.channels_last ? 1 : before);
  p.c = s[ax];
  p.s = p.channels_last ? before : after;
  p.relu = c.relu;
  p.dtype = dt;
  return p;
}

std::vector<double> values(const Param& p, int64_t c, double absent) {
  if (!p.value.defined()) return std::vector<double>(size_t(c), absent);
  return p.value.to_vector();
}
}  // namespace

void BatchNormBase::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  const int64_t C = channels(in);
  auto make = [&](Param& p, bool present, bool with_grad) {
    p.value = present ? Tensor(Shape{C}, dtype()) : Tensor();
    p.grad = present && with_grad ? Tensor(Shape{C}, dtype()) : Tensor();
  };
  make(gamma_, c_.has_gamma, true);
  make(beta_, c_.has_beta, true);
  if (c_.has_gamma) {
    if (c_.gamma_uniform01)
      for (int64_t i = 0; i < C; ++i) gamma_.value.set(i, rng.uniform());
    else
      initialize(c_.gamma_initializer, gamma_.value, rng, where() + " gamma_initializer");
    gamma_.regularizer = c_.gamma_regularizer;
    gamma_.constraint = c_.gamma_constraint;
    if (gamma_.constraint) gamma_.constraint->check(gamma_.value.shape(), where() + " gamma_constraint");
  }
  if (c_.has_beta) {
    initialize(c_.beta_initializer, beta_.value, rng, where() + " beta_initializer");
    beta_.regularizer = c_.beta_regularizer;
    beta_.constraint = c_.beta_constraint;
    if (beta_.constraint) beta_.constraint->check(beta_.value.shape(), where() + " beta_constraint");
  }
  make(moving_mean_, c_.running_stats, false);
  make(moving_variance_, c_.running_stats, false);
  if (c_.running_stats) {
    initialize(c_.moving_mean_initializer, moving_mean_.value, rng, where() + " moving_mean_initializer");
    initialize(c_.moving_variance_initializer, moving_variance_.value, rng, where() + " moving_variance_initializer");
    initial_mean_ = moving_mean_.value.clone();
    initial_variance_ = moving_variance_.value.clone();
  }
  batches_.value = c_.batches_tracked ? Tensor(Shape{1}, dtype()) : Tensor();
  normalizer_.value = c_.update == BatchNormCanonical::Update::caffe ? Tensor(Shape{1}, dtype()) : Tensor();
  impl_ = &kernels::choose<kernels::BatchNormKernel>("batch_norm", kernels::batch_norm_kernels(),
                                                     problem(c_, in, axis_of(in), dtype()));
}

void BatchNormBase::reset_running_stats() {
  if (!built() || !c_.running_stats) return;
  for (int64_t i = 0; i < initial_mean_.numel(); ++i) {
    moving_mean_.value.set(i, initial_mean_.item(i));
    moving_variance_.value.set(i, initial_variance_.item(i));
  }
  for (Param* p : {&batches_, &normalizer_})
    if (p->value.defined()) p->value.fill(0.0);
}

std::vector<Param*> BatchNormBase::params() {
  std::vector<Param*> out;
  if (!built() || !trainable()) return out;
  if (c_.has_gamma) out.push_back(&gamma_);
  if (c_.has_beta) out.push_back(&beta_);
  return out;
}

std::vector<Param*> BatchNormBase::buffers() {
  std::vector<Param*> out;
  if (!built()) return out;
  if (!trainable() && c_.has_gamma) out.push_back(&gamma_);
  if (!trainable() && c_.has_beta) out.push_back(&beta_);
  for (Param* p : {&moving_mean_, &moving_variance_, &batches_, &normalizer_})
    if (p->value.defined()) out.push_back(p);
  return out;
}

bool BatchNormBase::uses_batch_stats(Mode mode) const {
  if (!c_.running_stats) return true;
  if (!trainable()) return false;
  if (c_.use_global_stats) return !*c_.use_global_stats;
  return mode == Mode::Training;
}

void BatchNormBase::update_running(const std::vector<double>& mean, const std::vector<double>& var, int64_t m) {
  // The stored variance: Bessel-corrected where the convention says so (Caffe uses factor 1 for m = 1).
  double bessel = c_.unbiased && m > 1 ? double(m) / double(m - 1) : 1.0;
  // Keras 2.1.3-2.3.1 (keras/layers/normalization.py): variance *= m / (m - (1.0 + epsilon)); m = 1 has var 0.
  if (c_.keras2_variance_scale) bessel = double(m) / (double(m) - (1.0 + c_.epsilon));
  double old_w = c_.old_weight, new_w = c_.new_weight;
  if (c_.batches_tracked) batches_.value.set(0, batches_.value.item(0) + 1);
  if (c_.update == BatchNormCanonical::Update::cumulative) {
    new_w = 1.0 / batches_.value.item(0);
    old_w = 1.0 - new_w;
  } else if (c_.update == BatchNormCanonical::Update::caffe) {
    // Caffe keeps S = sum maf^k s and Z = sum maf^k; the stored statistic is S / Z.
    double z = normalizer_.value.item(0), z_new = c_.old_weight * z + 1;
    normalizer_.value.set(0, z_new);
    old_w = c_.old_weight * z / z_new;
    new_w = 1 / z_new;
  }
  for (size_t ch = 0; ch < mean.size(); ++ch) {
    int64_t i = int64_t(ch);
    moving_mean_.value.set(i, old_w * moving_mean_.value.item(i) + new_w * mean[ch]);
    moving_variance_.value.set(i, old_w * moving_variance_.value.item(i) + new_w * (var[ch] * bessel));
  }
}

int64_t BatchNormBase::global_statistics(const kernels::BatchNormProblem& p, const Tensor& x,
                                         const std::vector<double>& gamma, const std::vector<double>& beta, Tensor& y,
                                         std::vector<double>& mean, std::vector<double>& var) {
  const size_t C = size_t(p.c), k = 1 + 2 * C;
  std::vector<double> mine(k, 0.0), all(k * size_t(group_->size()));
  mine[0] = double(p.count());
  if (p.count() > 0) {  // the kernel's two-pass statistics; the y it writes is overwritten with the global ones
    impl_->forward_training(p, x.raw(), gamma.data(), beta.data(), c_.epsilon, y.raw(), mean.data(), var.data());
    for (size_t i = 0; i < C; ++i) {
      mine[1 + i] = mean[i];
      mine[1 + C + i] = var[i] * mine[0];
    }
  }
  group_->all_gather(mine, all);
  // Chan, Golub, LeVeque's pairwise update, rank by rank: never E[x^2] - E[x]^2.
  std::vector<double> m2(C, 0.0);
  std::fill(mean.begin(), mean.end(), 0.0);
  double n = 0;
  for (int r = 0; r < group_->size(); ++r) {
    const double* o = all.data() + size_t(r) * k;
    const double nb = o[0];
    if (nb == 0) continue;
    for (size_t i = 0; i < C; ++i) {
      const double delta = o[1 + i] - mean[i];
      mean[i] = n == 0 ? o[1 + i] : mean[i] + delta * (nb / (n + nb));
      m2[i] = n == 0 ? o[1 + C + i] : m2[i] + o[1 + C + i] + delta * delta * (n * nb / (n + nb));
    }
    n += nb;
  }
  for (size_t i = 0; i < C; ++i) var[i] = n > 0 ? m2[i] / n : 0.0;
  return int64_t(n);
}

Tensor BatchNormBase::forward(const Tensor& x, Mode mode) {
  check_input(x);
  const auto p = problem(c_, x.shape(), axis_of(x.shape()), x.dtype());
  int64_t m = p.count();
  const bool batch = uses_batch_stats(mode);
  // Only batch statistics in training are synchronized; a group of one is plain BatchNorm, bit for bit.
  const bool sync = batch && c_.sync && mode == Mode::Training && group_ && group_->size() > 1;
  std::vector<double> gamma = values(gamma_, p.c, 1), beta = values(beta_, p.c, 0);
  std::vector<double> mean(size_t(p.c)), invstd(size_t(p.c));
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (batch) {
    std::vector<double> var(size_t(p.c));
    if (sync) m = global_statistics(p, x, gamma, beta, y, mean, var);  // every rank checks the same m and values
    if (m < 1 || (c_.single_value_error && m == 1))
      raise<ConfigError>(
          "{}: expected more than 1 value per channel when computing batch statistics, got input "
          "shape {}{}",
          where(), x.shape().str(), sync ? fmt::format(" ({} values per channel in the global batch)", m) : "");
    if (!sync)
      impl_->forward_training(p, x.raw(), gamma.data(), beta.data(), c_.epsilon, y.raw(), mean.data(), var.data());
    for (int64_t ch = 0; ch < p.c; ++ch) {
      size_t i = size_t(ch);
      if (mode == Mode::Training && !(std::isfinite(mean[i]) && std::isfinite(var[i])))
        raise<ConfigError>(
            "{}: batch statistics must be finite in training mode (the input holds NaN or Inf), got "
            "mean {} and variance {} for channel {}{}",
            where(), mean[i], var[i], ch, sync ? " of the global batch" : "");
      invstd[i] = 1 / std::sqrt(var[i] + c_.epsilon);
    }
    if (sync && x.numel() > 0)
      impl_->forward_inference(p, x.raw(), mean.data(), invstd.data(), gamma.data(), beta.data(), y.raw());
    if (mode == Mode::Training && c_.running_stats && trainable()) update_running(mean, var, m);
  } else {
    mean = moving_mean_.value.to_vector();
    std::vector<double> rv = moving_variance_.value.to_vector();
    for (size_t i = 0; i < rv.size(); ++i) invstd[i] = 1 / std::sqrt(rv[i] + c_.epsilon);
    if (x.numel() > 0)
      impl_->forward_inference(p, x.raw(), mean.data(), invstd.data(), gamma.data(), beta.data(), y.raw());
  }
  if (mode == Mode::Training) {
    x_cache_ = x;
    mean_cache_ = std::move(mean);
    invstd_cache_ = std::move(invstd);
    batch_stats_cache_ = batch;
    sync_cache_ = sync;
    count_cache_ = m;
  }
  return y;
}

Tensor BatchNormBase::backward(const Tensor& dy) {
  if (!x_cache_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, x_cache_.shape());
  const auto p = problem(c_, dy.shape(), axis_of(dy.shape()), dy.dtype());
  std::vector<double> gamma = values(gamma_, p.c, 1), beta = values(beta_, p.c, 0);
  std::vector<double> dgamma(size_t(p.c)), dbeta(size_t(p.c));
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  // SyncBatchNorm: dx = gamma inv g (the kernel without batch statistics), then the global sums' terms.
  const bool sync = batch_stats_cache_ && sync_cache_;
  if (dy.numel() > 0)
    impl_->backward(p, x_cache_.raw(), dy.raw(), mean_cache_.data(), invstd_cache_.data(), gamma.data(), beta.data(),
                    batch_stats_cache_ && !sync, dx.raw(), dgamma.data(), dbeta.data());
  if (sync) {
    const size_t C = size_t(p.c);
    std::vector<double> sums(2 * C);  // sum g, sum g xhat over the global batch
    std::copy(dbeta.begin(), dbeta.end(), sums.begin());
    std::copy(dgamma.begin(), dgamma.end(), sums.begin() + ptrdiff_t(C));
    group_->all_reduce_sum(std::span<double>(sums));
    if (dy.numel() > 0) {
      // - gamma inv (sum_g/m + xhat sum_gxhat/m) is affine in x per channel: the inference kernel computes it.
      std::vector<double> a(C), b(C);
      for (size_t i = 0; i < C; ++i) {
        const double k = gamma[i] * invstd_cache_[i] / double(count_cache_);
        a[i] = -k * sums[C + i];
        b[i] = -k * sums[i];
      }
      auto q = p;
      q.relu = false;
      Tensor corr = Tensor::empty(dy.shape(), dy.dtype());
      impl_->forward_inference(q, x_cache_.raw(), mean_cache_.data(), invstd_cache_.data(), a.data(), b.data(),
                               corr.raw());
      visit_float(dx.dtype(), [&](auto t) {
        using T = decltype(t);
        T* d = dx.data<T>();
        const T* e = corr.data<T>();
        for (int64_t i = 0; i < dx.numel(); ++i) d[i] += e[i];
      });
    }
  }
  for (Param* prm : params()) {
    const std::vector<double>& g = prm == &gamma_ ? dgamma : dbeta;
    for (int64_t i = 0; i < p.c; ++i) prm->grad.set(i, prm->grad.item(i) + g[size_t(i)]);
  }
  return dx;
}

void BatchNormBase::inference_affine(std::vector<double>& scale, std::vector<double>& shift) const {
  if (!built()) raise<ConfigError>("{}: layer must be built to fold its statistics, got an unbuilt layer", where());
  if (uses_batch_stats(Mode::Inference))
    raise<ConfigError>(
        "{}: inference must use running statistics to fold into a constant scale and shift, got a "
        "layer that normalizes with batch statistics",
        where());
  const int64_t C = moving_mean_.value.numel();
  std::vector<double> gamma = values(gamma_, C, 1), beta = values(beta_, C, 0);
  scale.assign(size_t(C), 0);
  shift.assign(size_t(C), 0);
  for (int64_t i = 0; i < C; ++i) {
    size_t k = size_t(i);
    scale[k] = gamma[k] / std::sqrt(moving_variance_.value.item(i) + c_.epsilon);
    shift[k] = beta[k] - moving_mean_.value.item(i) * scale[k];
  }
}

std::string BatchNormBase::kernel() const { return impl_ ? impl_->name : "none"; }

}  // namespace locnet
