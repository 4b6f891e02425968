// Batch Normalization (BatchNorm1D/2D/3D), with the exact semantics of each framework (docs/batch_norm.md,
// docs/frameworks.md).
//
// Per channel c over the m = N * spatial elements of the batch (two-pass statistics, double accumulators):
//   mean = (1/m) sum x,  var = (1/m) sum (x - mean)^2  (biased: what every framework normalizes with)
//   training:  y = act(gamma (x - mean) / sqrt(var + eps) + beta)             (batch statistics)
//   inference: y = act(gamma (x - moving_mean) / sqrt(moving_variance + eps) + beta)
// act is None or "relu" (fused into the same pass, forward and backward). Backward (g = dy * act'(y)):
//   training:  dx = gamma inv (g - mean(g) - xhat mean(g xhat)),  inv = 1/sqrt(var + eps), xhat = (x - mean) inv
//   frozen:    dx = gamma g / sqrt(moving_variance + eps)      (statistics are constants)
//   dgamma = sum g xhat, dbeta = sum g (accumulated, not when frozen).
// Running statistics after a training forward, with the stored variance s_var = var (biased) or var m/(m-1):
//   old-weight momentum (numpy-ml, Keras):  r = momentum r + (1 - momentum) s
//   new-weight momentum (PyTorch):          r = (1 - momentum) r + momentum s; momentum=None: r = mean of all
//                                           batches so far (weight 1/t, t = num_batches_tracked)
//   Caffe:                                  Z = maf Z + 1, r = (maf Z_old r + s) / Z: the bias-corrected EMA that
//                                           Caffe's sums S/Z give (Z = 0 reads as mean 0, variance 0)
//
// Conventions (spec name: arguments with defaults), see docs/batch_norm.md; R = 1, 2, 3:
//   BatchNorm<R>D(momentum=0.9, epsilon=1e-5, activation=None, data_format="channels_last")
//        numpy-ml: old-weight momentum, biased running variance, gamma ~ U[0, 1), beta 0. numpy-ml's optimizer=
//        is the per-layer optimizer every layer takes (layer.hpp).
//   BatchNorm<R>D.pytorch(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
//        activation=None, data_format="channels_first")
//        new-weight momentum (None = cumulative), unbiased running variance, buffer num_batches_tracked;
//        track_running_stats=False uses batch statistics in both modes and keeps no running statistics.
//   BatchNorm<R>D.keras(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
//        gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
//        beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
//        activation=None, data_format=None, keras2_variance_scale=False)
//        old-weight momentum, biased moving variance (keras2_variance_scale: var m / (m - (1 + epsilon)), as
//        Keras 2.1.3 to 2.3.1 stored it; tf.keras and Keras 3 store var); axis: the channel axis, any axis but the batch's of an
//        input of any rank >= 2 (negative: from the end; a one-element list is that axis; a list of several is
//        NotSupported); data_format, when given, must agree with a non-default axis (1 or the last).
//   BatchNorm<R>D.caffe(use_global_stats=None, moving_average_fraction=0.999, eps=1e-5, activation=None,
//        data_format="channels_first")
//        no gamma/beta (Caffe puts them in a Scale layer); unbiased variance (factor 1 when m = 1); buffers
//        moving_mean, moving_variance (normalized: Caffe's blobs 0 and 1 divided by blob 2) and normalizer
//        (blob 2). use_global_stats None follows the mode; True always uses the running statistics; False always
//        the batch statistics (updating the running ones only in training mode).
// Inputs: 1D (N, C) or (N, L, C); 2D (N, H, W, C); 3D (N, D, H, W, C); or the channels_first forms. Keras: any
// rank >= 2 with the channel axis anywhere after the batch. The kernels see the input as (outer, C, inner) with
// outer = N * prod(dims before the channel axis), inner = prod(dims after it): channels_first kernels take it with
// n = outer, S = inner; a last channel axis (inner = 1) is the channels_last problem with n = N.
// sync=False (every convention; SyncBatchNorm, dist/sync_batch_norm.hpp): with sync=True and a collective of
// size > 1 (set_collective, Model::set_collective), a Training-mode forward that uses batch statistics takes them
// over the global batch (the union of every rank's local batch, m = sum of the ranks' m_r): one all_gather per
// layer of each rank's (m_r, mean_r, M2_r = sum (x - mean_r)^2), combined in rank order with Chan et al.'s
// parallel formula, so every rank normalizes with, raises on and stores in its running statistics (with the
// global m) the same values. Its backward all-reduces (one call) the per-channel sums of g and g xhat and uses
// the global m in dx; dgamma and dbeta stay this rank's sums (the data-parallel trainer sums them). A rank may
// hold 0 samples: it takes part in both collectives and contributes nothing. Inference mode, running statistics
// in use (frozen, use_global_stats=True) and a group of size 1 or none: exactly sync=False.
// Parameters gamma, beta (C,) trainable; buffers moving_mean, moving_variance (C,) (+ num_batches_tracked (1,)
// for PyTorch, normalizer (1,) for Caffe), saved with the weights. Weight files may also name them as the
// framework does: numpy-ml's scaler, intercept, running_mean, running_var; PyTorch's weight, bias, running_mean,
// running_var, with num_batches_tracked optional (0 when absent) and accepted as PyTorch's I64 scalar.
// trainable=False (spec) or freeze(): inference statistics in every mode, nothing trained (gamma and beta move
// to buffers()); unfreeze() undoes it. reset_running_stats() (PyTorch's) puts the running statistics, the
// batch count and Caffe's normalizer back to their values after build().
// Errors: ConfigError for epsilon <= 0 or not finite, momentum outside [0, 1], an unknown data_format/
// activation/initializer, an axis that is not an int, a bad regularizer/constraint; NotSupported for a list of
// several axes; ShapeError for a wrong rank, an axis out of range for the input (or the batch axis 0),
// unknown or zero channels or spatial size, a channel count different from num_features or from the built
// one; at forward, ConfigError for one value per channel where PyTorch computes batch statistics (as
// PyTorch's "Expected more than 1 value per channel when training") and for non-finite batch statistics in
// training mode (raised before the running statistics change). Loading mis-shaped running statistics is a
// FormatError (model/weights.hpp).
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

namespace kernels {
struct BatchNormKernel;
struct BatchNormProblem;
}  // namespace kernels

// Every convention maps to this.
struct BatchNormCanonical {
  enum class Update { ema, cumulative, caffe };
  int rank = 2;  // spatial axes: 1D takes 0 or 1
  double epsilon = 1e-5;
  Update update = Update::ema;
  double old_weight = 0.9, new_weight = 0.1;  // ema: r = old r + new s (Caffe: old = moving_average_fraction)
  bool unbiased = false;                      // stored variance var m/(m-1)
  bool keras2_variance_scale = false;         // Keras 2.1.3-2.3.1: stored variance var m/(m - (1 + eps))
  bool single_value_error = false;            // PyTorch: m = 1 with batch statistics raises
  bool channels_last = true;  // the channel axis is the last one, else axis 1 (where `axis` is unset)
  std::optional<int64_t> axis;  // Keras: any axis but 0, negative from the end; overrides channels_last
  bool any_rank = false;        // Keras: any input rank >= 2
  bool has_gamma = true, has_beta = true;
  bool running_stats = true;             // false: batch statistics in both modes (PyTorch)
  std::optional<bool> use_global_stats;  // Caffe
  bool batches_tracked = false;          // PyTorch's num_batches_tracked buffer
  bool gamma_uniform01 = false;          // numpy-ml: gamma ~ U[0, 1)
  // The framework's own names of gamma, beta, moving_mean, moving_variance ("": none), accepted in weight files.
  std::array<const char*, 4> file_names{"", "", "", ""};
  Value gamma_initializer = "ones", beta_initializer = "zeros";
  Value moving_mean_initializer = "zeros", moving_variance_initializer = "ones";
  std::shared_ptr<const Regularizer> gamma_regularizer, beta_regularizer;
  std::shared_ptr<const Constraint> gamma_constraint, beta_constraint;
  int64_t num_features = -1;  // -1: any
  bool relu = false;
  bool sync = false;  // SyncBatchNorm: training batch statistics over every rank of the layer's collective
};

#define LOCNET_BN_ACTIVATION_FIELD \
  v(s.activation, Field{"activation", "None or \"relu\" (fused into the normalization, forward and backward)."})
#define LOCNET_BN_SYNC_FIELD                                                                                    \
  v(s.sync, Field{"sync",                                                                                        \
                  "SyncBatchNorm: in a data-parallel job, training batch statistics over the global batch (every " \
                  "rank's); alone, plain BatchNorm."})

template <int R>
struct NumpyMlBatchNormConfig {
  static constexpr const char* kType = R == 1 ? "BatchNorm1D" : R == 2 ? "BatchNorm2D" : "BatchNorm3D";
  static constexpr const char* kDoc =
      "numpy-ml BatchNorm: old-value momentum, biased running variance, gamma ~ U[0,1).";
  double momentum = 0.9, epsilon = 1e-5;
  std::optional<std::string> activation;
  std::string data_format = "channels_last";
  bool sync = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.momentum, Field{"momentum", "Weight of the OLD running value: r = momentum r + (1 - momentum) batch."});
    v(s.epsilon, Field{"epsilon", "Added to the variance inside the square root, > 0."});
    LOCNET_BN_ACTIVATION_FIELD;
    v(s.data_format, Field{"data_format", "\"channels_last\" (numpy-ml's layout) or \"channels_first\"."});
    LOCNET_BN_SYNC_FIELD;
  }
  BatchNormCanonical validate() const;  // ConfigError; the canonical form
};

template <int R>
struct PyTorchBatchNormConfig {
  static constexpr const char* kType = R == 1   ? "BatchNorm1D.pytorch"
                                       : R == 2 ? "BatchNorm2D.pytorch"
                                                : "BatchNorm3D.pytorch";
  static constexpr const char* kDoc =
      "torch.nn.BatchNorm1d/2d/3d: new-value momentum (None: cumulative), unbiased running variance.";
  int64_t num_features = 0;
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true, track_running_stats = true;
  std::optional<std::string> activation;
  std::string data_format = "channels_first";
  bool sync = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.num_features, Field{"num_features", "Number of channels C.", Field::required});
    v(s.eps, Field{"eps", "Added to the variance inside the square root, > 0."});
    v(s.momentum, Field{"momentum",
                        "Weight of the NEW value: r = (1 - momentum) r + momentum batch; None: "
                        "cumulative average."});
    v(s.affine, Field{"affine", "Learnable weight (gamma) and bias (beta)."});
    v(s.track_running_stats, Field{"track_running_stats",
                                   "Keep running statistics; False: batch statistics "
                                   "in both modes."});
    LOCNET_BN_ACTIVATION_FIELD;
    v(s.data_format, Field{"data_format", "\"channels_first\" (PyTorch's layout) or \"channels_last\"."});
    LOCNET_BN_SYNC_FIELD;
  }
  BatchNormCanonical validate() const;  // ConfigError; the canonical form
};

template <int R>
struct KerasBatchNormConfig {
  static constexpr const char* kType = R == 1   ? "BatchNorm1D.keras"
                                       : R == 2 ? "BatchNorm2D.keras"
                                                : "BatchNorm3D.keras";
  static constexpr const char* kDoc =
      "keras.layers.BatchNormalization: old-value momentum 0.99, epsilon 1e-3, biased moving variance.";
  Value axis = -1;  // an int (or a one-element list of one); Value so that a list can be NotSupported
  double momentum = 0.99, epsilon = 1e-3;
  bool center = true, scale = true;
  Value beta_initializer = "zeros", gamma_initializer = "ones";
  Value moving_mean_initializer = "zeros", moving_variance_initializer = "ones";
  Value beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint;
  std::optional<std::string> activation;
  std::optional<std::string> data_format;
  bool keras2_variance_scale = false;
  bool sync = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axis, Field{"axis",
                    "Channel axis, an int: any axis but the batch's, negative from the end (-1: channels_last, "
                    "1: channels_first)."});
    v(s.momentum, Field{"momentum", "Weight of the OLD moving value: r = momentum r + (1 - momentum) batch."});
    v(s.epsilon, Field{"epsilon", "Added to the variance inside the square root, > 0."});
    v(s.center, Field{"center", "Add the offset beta."});
    v(s.scale, Field{"scale", "Multiply by gamma."});
    v(s.beta_initializer, Field{"beta_initializer", "Initializer of beta."});
    v(s.gamma_initializer, Field{"gamma_initializer", "Initializer of gamma."});
    v(s.moving_mean_initializer, Field{"moving_mean_initializer", "Initializer of moving_mean."});
    v(s.moving_variance_initializer, Field{"moving_variance_initializer", "Initializer of moving_variance."});
    v(s.beta_regularizer, Field{"beta_regularizer", "None or a regularizer (params/regularizers.hpp)."});
    v(s.gamma_regularizer, Field{"gamma_regularizer", "None or a regularizer (params/regularizers.hpp)."});
    v(s.beta_constraint, Field{"beta_constraint", "None or a constraint (params/constraints.hpp)."});
    v(s.gamma_constraint, Field{"gamma_constraint", "None or a constraint (params/constraints.hpp)."});
    LOCNET_BN_ACTIVATION_FIELD;
    v(s.data_format, Field{"data_format", "None (from axis), \"channels_last\" or \"channels_first\"."});
    v(s.keras2_variance_scale, Field{"keras2_variance_scale",
                                     "Keras 2.1.3-2.3.1's training rule: the batch variance is scaled by "
                                     "m / (m - (1 + epsilon)) before the moving-variance update (inference "
                                     "unaffected). The .h5 importer sets it from keras_version."});
    LOCNET_BN_SYNC_FIELD;
  }
  BatchNormCanonical validate() const;  // ConfigError; the canonical form
};

template <int R>
struct CaffeBatchNormConfig {
  static constexpr const char* kType = R == 1   ? "BatchNorm1D.caffe"
                                       : R == 2 ? "BatchNorm2D.caffe"
                                                : "BatchNorm3D.caffe";
  static constexpr const char* kDoc =
      "Caffe BatchNorm layer: normalized moving sums (maf 0.999), unbiased, no scale/shift.";
  std::optional<bool> use_global_stats;
  double moving_average_fraction = 0.999, eps = 1e-5;
  std::optional<std::string> activation;
  std::string data_format = "channels_first";
  bool sync = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.use_global_stats, Field{"use_global_stats",
                                "None: follow the mode; True: always the running statistics; "
                                "False: always the batch statistics."});
    v(s.moving_average_fraction, Field{"moving_average_fraction", "Decay of the moving sums, in [0, 1]."});
    v(s.eps, Field{"eps", "Added to the variance inside the square root, > 0."});
    LOCNET_BN_ACTIVATION_FIELD;
    v(s.data_format, Field{"data_format", "\"channels_first\" (Caffe's layout) or \"channels_last\"."});
    LOCNET_BN_SYNC_FIELD;
  }
  BatchNormCanonical validate() const;  // ConfigError; the canonical form
};

#undef LOCNET_BN_ACTIVATION_FIELD
#undef LOCNET_BN_SYNC_FIELD

// The layer machinery shared by every convention.
class BatchNormBase : public Layer {
 public:
  BatchNormBase(BatchNormCanonical canonical, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  std::vector<Param*> buffers() override;
  std::string kernel() const override;
  // SyncBatchNorm (sync=True): the group whose ranks' batches make the global batch; null or size 1: alone.
  void set_collective(std::shared_ptr<Collective> group) override { group_ = std::move(group); }
  // sync=True or False, as the spec's sync= (config() reports it); dist::convert_sync_batchnorm uses it.
  virtual void set_sync(bool on) { c_.sync = on; }
  const BatchNormCanonical& canonical() const { return c_; }
  // The channel axis of the built input, in 1 .. rank - 1 (ConfigError before build).
  int64_t channel_axis() const;

  // numpy-ml: a frozen layer normalizes with the running statistics in every mode and trains nothing. The same
  // as set_trainable(false), so a spec's trainable=False freezes it too.
  void freeze() { set_trainable(false); }
  void unfreeze() { set_trainable(true); }
  bool frozen() const { return !trainable(); }
  // PyTorch's reset_running_stats(): the running statistics (and num_batches_tracked, Caffe's normalizer) as
  // build() initialized them; nothing happens before build or without running statistics.
  void reset_running_stats();
  // Whether forward in `mode` normalizes with the batch's statistics (else the running ones).
  bool uses_batch_stats(Mode mode) const;
  // The inference transform y = act(x scale + shift) per channel (ones/zeros where there is no gamma/beta);
  // ConfigError unless built and the running statistics are what inference uses.
  void inference_affine(std::vector<double>& scale, std::vector<double>& shift) const;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  // The channel axis of an input of shape s, in 1 .. rank - 1 (ShapeError when the axis is out of range).
  int64_t axis_of(const Shape& s) const;
  int64_t channels(const Shape& s) const { return s[size_t(axis_of(s))]; }
  void update_running(const std::vector<double>& mean, const std::vector<double>& var, int64_t m);
  // SyncBatchNorm's forward statistics: the global mean and biased variance (assigned) over every rank's batch,
  // from each rank's (count, mean, M2) combined in rank order (Chan et al.); y is scratch. Returns the global m.
  int64_t global_statistics(const kernels::BatchNormProblem& p, const Tensor& x, const std::vector<double>& gamma,
                            const std::vector<double>& beta, Tensor& y, std::vector<double>& mean,
                            std::vector<double>& var);

  BatchNormCanonical c_;
  Param gamma_{"gamma", {}, {}}, beta_{"beta", {}, {}};
  Param moving_mean_{"moving_mean", {}, {}, false}, moving_variance_{"moving_variance", {}, {}, false};
  Param batches_{"num_batches_tracked", {}, {}, false}, normalizer_{"normalizer", {}, {}, false};
  Tensor initial_mean_, initial_variance_;  // for reset_running_stats()
  const kernels::BatchNormKernel* impl_ = nullptr;
  Tensor x_cache_;
  std::vector<double> mean_cache_, invstd_cache_;  // the statistics the cached forward used
  bool batch_stats_cache_ = false;
  bool sync_cache_ = false;  // the cached forward used the global batch's statistics
  int64_t count_cache_ = 0;  // ... over this many values per channel
  std::shared_ptr<Collective> group_;
};

template <class C>
class BatchNormLayer : public LayerOf<BatchNormLayer<C>, C, BatchNormBase> {
 public:
  using LayerOf<BatchNormLayer, C, BatchNormBase>::LayerOf;
  void set_sync(bool on) override {
    this->cfg_.sync = on;
    BatchNormBase::set_sync(on);
  }
};

using BatchNorm1D = BatchNormLayer<NumpyMlBatchNormConfig<1>>;
using BatchNorm2D = BatchNormLayer<NumpyMlBatchNormConfig<2>>;
using BatchNorm3D = BatchNormLayer<NumpyMlBatchNormConfig<3>>;
using PyTorchBatchNorm1D = BatchNormLayer<PyTorchBatchNormConfig<1>>;
using PyTorchBatchNorm2D = BatchNormLayer<PyTorchBatchNormConfig<2>>;
using PyTorchBatchNorm3D = BatchNormLayer<PyTorchBatchNormConfig<3>>;
using KerasBatchNorm1D = BatchNormLayer<KerasBatchNormConfig<1>>;
using KerasBatchNorm2D = BatchNormLayer<KerasBatchNormConfig<2>>;
using KerasBatchNorm3D = BatchNormLayer<KerasBatchNormConfig<3>>;
using CaffeBatchNorm1D = BatchNormLayer<CaffeBatchNormConfig<1>>;
using CaffeBatchNorm2D = BatchNormLayer<CaffeBatchNormConfig<2>>;
using CaffeBatchNorm3D = BatchNormLayer<CaffeBatchNormConfig<3>>;

}  // namespace locnet
