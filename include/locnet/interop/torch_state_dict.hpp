// PyTorch state_dicts -> locnet models (docs/pytorch-state-dict.md). A state_dict saved in the safetensors layout
// (io/safetensors.hpp; keys "<module path>.<name>", F32/F64, I64 for num_batches_tracked) is loaded into a built
// model whose layers follow PyTorch's conventions (BatchNorm<R>D.pytorch, LocalResponseNorm.pytorch, Conv1D/Conv2D
// with data_format="channels_first", Dense).
//   Modules <-> layers: with an empty `modules` map, the modules in file order (the order of their first key, as
//   state_dict() lists them) pair with the model's layers that have parameters or buffers, in model order; else
//   `modules` maps every module path of the file to a layer name.
//   Names and layouts per layer type:
//     Conv1D, Conv2D  weight (F, C/groups, k...) -> kernel (k..., C/groups, F);  bias -> bias
//     Dense           weight (out, in) -> kernel (in, out);  bias -> bias
//     any other       the name as it is: BatchNorm*.pytorch takes weight, bias, running_mean, running_var and
//                     num_batches_tracked (an I64 scalar, optional) as aliases (layers/batch_norm.hpp)
//   Values are converted to the model's dtype; the model/weights.hpp checks then apply.
// Errors: FormatError naming the file (`where`) and the PyTorch key for a key without a module, a missing or
// unexpected entry, a mis-shaped tensor (with the shape PyTorch would have), modules and layers that do not pair
// up; ConfigError for a map naming a layer the model lacks.
#pragma once
#include <map>
#include <string>

#include "locnet/io/safetensors.hpp"
#include "locnet/model/model.hpp"

namespace locnet {

using ModuleMap = std::map<std::string, std::string>;  // PyTorch module path -> locnet layer name

void load_state_dict(Model& model, const TensorFile& state_dict, const ModuleMap& modules = {},
                     const std::string& where = "state_dict");
void load_state_dict(Model& model, const std::string& path, const ModuleMap& modules = {});

}  // namespace locnet
