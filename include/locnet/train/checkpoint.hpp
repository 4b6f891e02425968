// Model files and training checkpoints: one safetensors file (io/safetensors.hpp, written through a temporary
// file and rename, so an interrupted write leaves the previous file intact).
//   tensors   "<layer>.<param>"            the model's parameters and buffers (model/weights.hpp)
//             "optimizer/<state key>"      checkpoints only: Optimizer::state() (slots, iteration counts)
//   metadata  "format": "locnet", "locnet_version", "spec" (Model::spec(), with its Input shape),
//             "dtype" (f32/f64); checkpoints add "optimizer" (its config call), "epoch" (epochs completed),
//             "seed" and "batch_size" of the run, so `--resume` continues it: the trainer replays the skipped
//             epochs' shuffles (FitOptions::initial_epoch), and resuming gives the weights an uninterrupted run gives;
//             "class_names" (optional): the names of the output classes in order, one a line.
//             Optional "input_dtype" and "input_scale" (InputScaling): how raw samples were scaled in training.
// A checkpoint is also a model file: load_model() ignores the optimizer tensors.
// load_class_names(path) reads "class_names" from any model file: empty when it has none.
// Errors: FormatError (naming the path) for a missing or unreadable file, a corrupt safetensors file, missing
// metadata or weights that do not fit the spec; ConfigError for a model without an input shape, or a class name
// that is empty or holds a newline.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "locnet/io/idx.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/train/optimizers.hpp"

namespace locnet {

// How raw samples become the model's input: a raw sample of `dtype` (only "uint8") times `scale`. `locnet train`
// records uint8 and 1/255 (io/idx.hpp); the metadata value is the shortest text that reads back as the same double.
struct InputScaling {
  std::string dtype = "uint8";
  double scale = kIdxImageScale;
};

void save_model(Model& model, const std::string& path, const std::optional<InputScaling>& input = std::nullopt);
Model load_model(const std::string& path);  // built, weights loaded
// Also the file's InputScaling (nullopt for a file without one, such as files written before it was recorded).
// FormatError for an input_dtype other than uint8 or an input_scale that is not a finite number > 0.
Model load_model(const std::string& path, std::optional<InputScaling>& input);
Model load_model(std::span<const std::byte> file, const std::string& name);  // the file's bytes; name in errors

struct TrainingState {
  int64_t epoch = 0;  // epochs completed
  uint64_t seed = 0;
  int64_t batch_size = 32;
  std::vector<std::string> class_names;  // the output classes' names, in order; empty when not known
};

struct Checkpoint {
  Model model;
  std::unique_ptr<Optimizer> optimizer;  // with its state restored
  TrainingState state;
};

void save_checkpoint(Model& model, const Optimizer& optimizer, const TrainingState& state,
                     const std::string& path, const std::optional<InputScaling>& input = std::nullopt);
Checkpoint load_checkpoint(const std::string& path);
std::vector<std::string> load_class_names(const std::string& path);

}  // namespace locnet
