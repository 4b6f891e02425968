#include <cstdio>

#include "commands.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/interop/keras.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/profile.hpp"
#include "locnet/model/weights.hpp"

namespace locnet::cli {
namespace {
struct ApplyArgs {
  std::string spec, input, output, mode, weights, save_weights, grad_output, grad_input, grad_params;
  uint64_t seed = 0;
  int keras_implementation = 1;
  bool profile = false;
  int64_t profile_steps = 10;
};

int run_apply(const ApplyArgs& a) {
  bool want_grad = !a.grad_output.empty();
  Mode mode = a.mode.empty() ? (want_grad ? Mode::Training : Mode::Inference)
                             : (a.mode == "training" ? Mode::Training : Mode::Inference);
  if (want_grad && mode == Mode::Inference)
    raise<ConfigError>("--grad-output needs --mode training (backward uses what a training forward caches), got "
                       "--mode inference");
  if (!want_grad && (!a.grad_input.empty() || !a.grad_params.empty()))
    raise<ConfigError>("--grad-input and --grad-params need --grad-output");
  if (want_grad && a.grad_input.empty())
    raise<ConfigError>("--grad-output needs --grad-input FILE to write dx to");

  Model model = parse_model(a.spec);
  Tensor x = read_npy(a.input);
  if (x.rank() < 1) raise<ShapeError>("--input: x must have a batch axis (rank >= 1), got shape {}", x.shape().str());
  DType dt = compute_dtype(x.dtype());
  model.build(x.shape().with_dim(0, Shape::kUnknown), a.seed, dt);
  if (a.keras_implementation != 1 && a.weights.empty())
    raise<ConfigError>("--keras-implementation needs --weights (the file it describes)");
  if (!a.weights.empty())
    load_weights(model, keras_weights_to_impl1(model, read_safetensors(a.weights), a.keras_implementation));

  Tensor y = model.forward(x.to(dt), mode);
  write_npy(a.output, y.to(x.dtype()));
  // After forward: a training forward updates buffers such as BatchNorm's running statistics.
  if (!a.save_weights.empty()) save_weights(model, a.save_weights, {{"spec", model.spec()}});
  // After the outputs are written: the profiled steps change running statistics and accumulate gradients.
  auto profile = [&](const Tensor& dy) {
    if (!a.profile) return 0;
    const MachineLimits limits = measure_machine_limits();
    Profiler profiler;
    profile_steps(model, x.to(dt), mode, dy, a.profile_steps, profiler);
    std::printf("%s", profile_table(profiler, limits).c_str());
    return 0;
  };
  if (!want_grad) return profile(Tensor());

  Tensor dy = read_npy(a.grad_output);
  if (dy.shape() != y.shape())
    raise<ShapeError>("--grad-output: dy shape must be {} (the output's), got {}", y.shape().str(), dy.shape().str());
  model.zero_grad();
  Tensor dx = model.backward(dy.to(dt));
  write_npy(a.grad_input, dx.to(x.dtype()));
  if (!a.grad_params.empty()) {
    TensorFile g;
    for (auto& [key, p] : model.named_params(false)) g.tensors.emplace_back(key, p->grad.to(x.dtype()));
    write_safetensors(a.grad_params, g);
  }
  return profile(dy.to(dt));
}
}  // namespace

void add_apply(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("apply", "Run a network on an .npy input (forward, and backward with --grad-output)");
  auto a = std::make_shared<ApplyArgs>();
  cmd->add_option("spec", a->spec, "Network spec, e.g. 'Dense(3, name=\"d\")'")->required();
  cmd->add_option("--input", a->input, "Input x (.npy); axis 0 is the batch")->required();
  cmd->add_option("--output", a->output, "Output y (.npy), written in x's dtype")->required();
  cmd->add_option("--mode", a->mode, "inference (default) or training (default with --grad-output)")
      ->check(CLI::IsMember({"inference", "training"}));
  cmd->add_option("--weights", a->weights, "Load parameters from safetensors (keys <layer>.<param>)");
  cmd->add_option("--keras-implementation", a->keras_implementation,
                  "Keras LocallyConnected implementation (1, 2 or 3) the --weights were saved with; their kernels "
                  "are converted to implementation 1")
      ->default_val(1);
  cmd->add_option("--save-weights", a->save_weights,
                  "Write the parameters and buffers to safetensors after the forward pass (running statistics "
                  "updated in training mode)");
  cmd->add_option("--seed", a->seed, "Seed of the parameter initializers (an integer >= 0)")
      ->default_val(0)
      ->check(non_negative_integer());
  cmd->add_option("--grad-output", a->grad_output, "dL/dy (.npy): run backward");
  cmd->add_option("--grad-input", a->grad_input, "Where to write dL/dx (.npy)");
  cmd->add_option("--grad-params", a->grad_params, "Where to write the parameter gradients (safetensors)");
  cmd->add_flag("--profile", a->profile,
                "After writing the outputs, time --profile-steps more passes per layer (backward too with "
                "--grad-output) and print the table (docs/profiling.md)");
  cmd->add_option("--profile-steps", a->profile_steps, "Profiled steps, after one warm-up step")
      ->default_val(a->profile_steps)
      ->check(CLI::PositiveNumber);
  cmd->callback([&action, a] { action = [a] { return run_apply(*a); }; });
}

}  // namespace locnet::cli
