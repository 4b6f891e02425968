// Per-layer profile: where a step's time goes (`locnet apply --profile`, `locnet train --profile`).
//
// Attach a Profiler with Model::set_profiler(&p): every forward and backward then times each layer (wall
// clock around the layer's call; the kernels finish their threads before returning) and adds its estimated work
// (Layer::work: flops and bytes of the pass). With no profiler attached the passes measure nothing (one pointer
// test per pass). The caller marks each step's wall time with add_step, so that time spent outside the layers
// (loss, optimizer, copying batches) shows as a row of its own.
//
// The roofline: measure_machine_limits() measures this machine once in a few tens of milliseconds: memory
// bandwidth as the best of 4 memcpy of 32 MiB over all threads (read + write bytes counted), compute as the best
// of 4 cblas_sgemm of 512 x 512 x 512 (f32; 2 n^3 flops). A layer's fraction of the roofline is
//   t_min / t,  t_min = max(bytes / bandwidth, flops / peak)
// over its forward and backward passes together (> 1 is possible when its data fit in cache, where a 32 MiB
// memcpy does not). Achieved rates are GFLOP/s for layers with flops, GB/s for the others.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "locnet/model/sequential.hpp"

namespace locnet {

struct LayerProfile {
  std::string name, type, kernel;
  double forward_seconds = 0, backward_seconds = 0;  // summed over the passes
  int64_t forwards = 0, backwards = 0;
  PassWork forward_work, backward_work;  // summed over the passes
};

class Profiler {
 public:
  // One pass of layer `index` of a model (layer.work(in) is its estimate), taking `seconds`.
  void add(size_t index, const Layer& layer, const Shape& in, bool backward, double seconds);
  void add_step(double seconds);  // one step's wall time, layers and everything else
  const std::vector<LayerProfile>& layers() const { return layers_; }
  int64_t steps() const { return steps_; }
  double step_seconds() const { return step_seconds_; }  // summed over the steps

 private:
  std::vector<LayerProfile> layers_;
  int64_t steps_ = 0;
  double step_seconds_ = 0;
};

struct MachineLimits {
  double bytes_per_second = 0, flops_per_second = 0;
};
MachineLimits measure_machine_limits();

// Runs `runs` steps of forward(x, mode), plus backward(dy) when dy is defined (mode must then be Training),
// with `profiler` attached, after one unprofiled warm-up step. Parameter gradients accumulate as usual.
void profile_steps(Model& model, const Tensor& x, Mode mode, const Tensor& dy, int64_t runs, Profiler& profiler);

// The table: per layer its name, type, kernel, forward and backward milliseconds per step, share of the step,
// achieved GFLOP/s or GB/s and fraction of the roofline; then "(other)" (step time outside the layers), the
// total, and the measured limits. ConfigError when no step was recorded.
std::string profile_table(const Profiler& profiler, const MachineLimits& limits);

}  // namespace locnet
