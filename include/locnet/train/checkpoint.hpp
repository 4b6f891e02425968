// Model files and training checkpoints: one safetensors file (io/safetensors.hpp, written through a temporary
// file and rename, so an interrupted write leaves the previous file intact).
//   tensors   "<layer>.<param>"            the model's parameters and buffers (model/weights.hpp)
//             "optimizer/<state key>"      checkpoints only: Optimizer::state() (slots, iteration counts)
//   metadata  "format": "locnet", "locnet_version", "spec" (Sequential::spec(), with its Input shape),
//             "dtype" (f32/f64); checkpoints add "optimizer" (its config call), "epoch" (epochs completed),
//             "seed" and "batch_size" of the run, so `--resume` continues it: the trainer replays the skipped
//             epochs' shuffles (FitOptions::initial_epoch), and resuming gives the weights an uninterrupted run gives;
//             "class_names" (optional): the names of the output classes in order, one a line.
// A checkpoint is also a model file: load_model() ignores the optimizer tensors.
// load_class_names(path) reads "class_names" from any model file: empty when it has none.
// Errors: FormatError (naming the path) for a missing or unreadable file, a corrupt safetensors file, missing
// metadata or weights that do not fit the spec; ConfigError for a model without an input shape, or a class name
// that is empty or holds a newline.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "locnet/model/sequential.hpp"
#include "locnet/train/optimizers.hpp"

namespace locnet {

void save_model(Sequential& model, const std::string& path);
Sequential load_model(const std::string& path);  // built, weights loaded
Sequential load_model(std::span<const std::byte> file, const std::string& name);  // the file's bytes; name in errors

struct TrainingState {
  int64_t epoch = 0;  // epochs completed
  uint64_t seed = 0;
  int64_t batch_size = 32;
  std::vector<std::string> class_names;  // the output classes' names, in order; empty when not known
};

struct Checkpoint {
  Sequential model;
  std::unique_ptr<Optimizer> optimizer;  // with its state restored
  TrainingState state;
};

void save_checkpoint(Sequential& model, const Optimizer& optimizer, const TrainingState& state,
                     const std::string& path);
Checkpoint load_checkpoint(const std::string& path);
std::vector<std::string> load_class_names(const std::string& path);

}  // namespace locnet
