// PyTorch state_dicts (include/locnet/interop/torch_state_dict.hpp). The reference is real: the .safetensors
// files, inputs and outputs in tests/interop/state_dict/ were written by PyTorch 1.13 (generate.py there): a
// ConvNet (Conv2d, BatchNorm2d, LocalResponseNorm, MaxPool, Linear; float64) and an nn.Sequential (grouped Conv1d,
// BatchNorm1d with momentum=None, Linear, BatchNorm1d; float32), each trained 3 steps, then run in eval mode.
#include <gtest/gtest.h>

#include <fstream>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/interop/torch_state_dict.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;

namespace {
const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/state_dict/";

// name -> locnet spec, from cases.txt
std::string spec_of(const std::string& name) {
  std::ifstream in(kDir + "cases.txt");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(name + "|")) return line.substr(name.size() + 1);
  throw std::logic_error("no case " + name);
}

Model built(const std::string& name, DType dt) {
  Model m = parse_model(spec_of(name));
  m.build(*m.input_shape(), uint64_t(0), dt);
  return m;
}

TensorFile without(TensorFile f, const std::string& key) {
  std::erase_if(f.tensors, [&](const auto& kv) { return kv.first == key; });
  return f;
}
}  // namespace

TEST(TorchStateDict, OutputsMatchPyTorchByOrder) {
  for (const char* name : {"convnet_f64", "sequential_f32"}) {
    for (DType dt : {DType::f32, DType::f64}) {
      SCOPED_TRACE(std::string(name) + " " + std::string(dtype_name(dt)));
      Model m = built(name, dt);
      load_state_dict(m, kDir + name + ".safetensors");
      Tensor y = m.forward(read_npy(kDir + name + "_x.npy").to(dt), Mode::Inference);
      const double tol = dt == DType::f64 && std::string(name) == "convnet_f64" ? 1e-10 : 1e-5;
      EXPECT_LE(max_scaled_error(y, read_npy(kDir + name + "_y.npy"), tol, tol), 1.0);
    }
  }
}

TEST(TorchStateDict, NumBatchesTrackedIsLoadedAsACounter) {
  Model m = built("sequential_f32", DType::f64);
  load_state_dict(m, kDir + "sequential_f32.safetensors");
  for (auto& [key, p] : m.named_params())
    if (key.ends_with("num_batches_tracked")) EXPECT_EQ(p->value.item(0), 3.0) << key;
}

TEST(TorchStateDict, ModuleMapPairsByName) {
  Model m = built("sequential_f32", DType::f64);
  std::vector<std::string> layers;
  for (auto& [key, p] : m.named_params()) {
    const std::string layer = key.substr(0, key.find('.'));
    if (layers.empty() || layers.back() != layer) layers.push_back(layer);
  }
  ASSERT_EQ(layers.size(), 4u);
  const ModuleMap map = {{"0", layers[0]}, {"1", layers[1]}, {"4", layers[2]}, {"5", layers[3]}};
  load_state_dict(m, kDir + "sequential_f32.safetensors", map);
  Tensor y = m.forward(read_npy(kDir + "sequential_f32_x.npy").to(DType::f64), Mode::Inference);
  EXPECT_LE(max_scaled_error(y, read_npy(kDir + "sequential_f32_y.npy"), 1e-5, 1e-5), 1.0);

  EXPECT_THROW_MSG(load_state_dict(m, kDir + "sequential_f32.safetensors", {{"0", layers[0]}}), FormatError,
                   "module '1' is not in the module map (it maps 0)");
  EXPECT_THROW_MSG(load_state_dict(m, kDir + "sequential_f32.safetensors", {{"0", "nope"}, {"1", "a"}}), ConfigError,
                   "nope");
}

TEST(TorchStateDict, MissingExtraAndMisShapedEntriesNameThePyTorchKey) {
  const TensorFile sd = read_safetensors(kDir + "convnet_f64.safetensors");
  Model m = built("convnet_f64", DType::f64);
  EXPECT_THROW_MSG(load_state_dict(m, without(sd, "fc.bias")), FormatError,
                   "state_dict: missing 'fc.bias' for layer 'fc' (Dense.bias)");
  EXPECT_THROW_MSG(load_state_dict(m, without(sd, "bn.running_var")), FormatError,
                   "missing 'bn.running_var' for layer 'bn' (BatchNorm2D.pytorch.moving_variance)");
  // num_batches_tracked is optional (0 when absent)
  EXPECT_NO_THROW(load_state_dict(m, without(sd, "bn.num_batches_tracked")));

  TensorFile extra = sd;
  extra.tensors.emplace_back("fc.scale", Tensor(Shape({5}), DType::f64));
  EXPECT_THROW_MSG(load_state_dict(m, extra, {}, "x.safetensors"), FormatError,
                   "x.safetensors: unexpected 'fc.scale': layer 'fc' (Dense) takes weight, bias");
  TensorFile locnet_names = sd;  // a layer in PyTorch layout takes PyTorch's names only
  for (auto& [k, t] : locnet_names.tensors)
    if (k == "fc.weight") k = "fc.kernel";
  EXPECT_THROW_MSG(load_state_dict(m, locnet_names), FormatError, "unexpected 'fc.kernel': layer 'fc' (Dense) takes");
  TensorFile bad = sd;
  for (auto& [k, t] : bad.tensors)
    if (k == "conv.weight") t = Tensor(Shape({4, 3, 3, 2}), DType::f64);
  EXPECT_THROW_MSG(load_state_dict(m, bad), FormatError,
                   "'conv.weight' must have shape (4, 3, 3, 3) for layer 'conv' (Conv2D.kernel), got (4, 3, 3, 2)");
  for (auto& [k, t] : bad.tensors)
    if (k == "conv.weight") t = sd.find("conv.weight")->clone();
    else if (k == "fc.weight") t = Tensor(Shape({24, 5}), DType::f64);  // (in, out): not transposed
  EXPECT_THROW_MSG(load_state_dict(m, bad), FormatError,
                   "'fc.weight' must have shape (5, 24) for layer 'fc' (Dense.kernel), got (24, 5)");

  TensorFile more = sd;
  more.tensors.emplace_back("head.weight", Tensor(Shape({2, 5}), DType::f64));
  EXPECT_THROW_MSG(load_state_dict(m, more), FormatError,
                   "by order, the 4 modules with weights (conv, bn, fc, head) must pair with the model's 3 layers "
                   "with weights (conv, bn, fc)");
  TensorFile flat = sd;
  flat.tensors.emplace_back("weight", Tensor(Shape({2}), DType::f64));
  EXPECT_THROW_MSG(load_state_dict(m, flat), FormatError, "key 'weight' must be <module>.<name>");
}

TEST(TorchStateDict, AMissingFileIsAFormatErrorNamingIt) {
  Model m = built("convnet_f64", DType::f32);
  EXPECT_THROW_MSG(load_state_dict(m, kDir + "absent.safetensors"), FormatError, "absent.safetensors");
}
