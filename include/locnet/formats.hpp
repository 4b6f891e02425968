// One loader for every model file locnet reads (docs/formats.md).
//   load_any_model(path) recognizes the file by its first bytes, and by its extension only where the bytes cannot
//   tell (ONNX has no magic number), and calls its importer:
//     safetensors with "format": "locnet"  -> load_model (train/checkpoint.hpp; a checkpoint's optimizer state is
//                                             not read)
//     HDF5 ("\x89HDF\r\n\x1a\n")            -> load_keras_h5 (interop/keras_h5.hpp)
//     zip ("PK\x03\x04")                    -> load_keras_archive (interop/keras_h5.hpp)
//     ".onnx", or a protobuf starting with field 1 (ir_version) -> read_onnx (interop/onnx.hpp)
//   Every model comes back built with its weights loaded. Only locnet files record an input scaling and class
//   names; for the others the scaling overload gives uint8 at scale 1 (input taken as it is) and no class names.
//   load_any_checkpoint(path), for train --resume: a locnet checkpoint as load_checkpoint reads it; any other model
//   file (a locnet model file, .h5, .keras, .onnx) as the start of a new run: its model and class names, epoch 0
//   and no optimizer (nullptr: the caller makes a fresh one).
//   supported_formats(): the table `locnet info --formats` prints, version by version.
// Errors: FormatError naming the file for a missing or unreadable file and, for a file no importer claims, the
// formats tried; each importer's own errors otherwise (FormatError, ConfigError, NotSupported).
#pragma once
#include <string>
#include <vector>

#include "locnet/model/model.hpp"
#include "locnet/train/checkpoint.hpp"

namespace locnet {

Model load_any_model(const std::string& path);
Model load_any_model(const std::string& path, std::optional<InputScaling>& input);
std::vector<std::string> load_any_class_names(const std::string& path);
Checkpoint load_any_checkpoint(const std::string& path);

// The kind load_any_model sees in a file: "locnet", "Keras .h5", "Keras .keras", "ONNX", or "" for none. A path
// that is not a regular file (a pipe, a device, a missing file) is "locnet": read once, by load_model, as always.
std::string model_file_kind(const std::string& path);

struct FormatSupport {
  std::string format;      // e.g. "Keras .h5"
  std::string extensions;  // e.g. ".h5, .hdf5"
  std::string versions;    // the versions read, as precisely as tested
  std::string notes;       // what is read from it, and how
};
const std::vector<FormatSupport>& supported_formats();

}  // namespace locnet
