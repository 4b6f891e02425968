#include "fuzz/targets.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "locnet/interop/keras_h5.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/locnet.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet::fuzz {

double forward_macs(const Model& model, const std::vector<Shape>& in) {
  const std::vector<Shape> shapes = model.node_shapes(in);
  double macs = 0;
  for (NodeId id = 0; id < NodeId(model.node_count()); ++id) {
    const Layer* layer = model.node_layer(id);
    if (!layer) continue;
    const Shape& x = shapes[size_t(model.node_inputs(id)[0])];
    // Layers whose work() counts no arithmetic (LocallyConnected, BatchNorm) use every weight once per sample.
    const double weights = double(layer->param_count()) * double(x[0]);
    macs += std::max(layer->work(x).forward.flops / 2, weights) + double(x.numel()) + double(shapes[size_t(id)].numel());
  }
  return macs;
}

namespace {

std::string_view as_text(std::span<const std::byte> in) {
  return {reinterpret_cast<const char*>(in.data()), in.size()};
}

// A model that parsed and built runs one small batch forward (inference and training) and backward, so that
// shape inference and the kernels see whatever the fuzzer composed, unless its work would exceed kMaxMacs: a legal
// model can be slow (a Conv2D of 12 filters 2048 columns wide over a 2048-pixel row took 19 s under the fuzzing
// build's ASan and coverage instrumentation, about 5 M multiply-adds a second, against libFuzzer's 10 s timeout).
constexpr double kMaxMacs = 1e7;

void exercise(Model& model) {
  std::vector<Shape> in;
  int64_t values = 0;
  for (const std::optional<Shape>& s : model.input_shapes()) {
    if (!s) return;
    in.push_back(s->with_dim(0, 2));
    values += in.back().numel();
  }
  if (in.empty() || values > 4096) return;
  if (!model.built()) model.build_from_inputs(1);
  if (forward_macs(model, in) > kMaxMacs) return;
  std::vector<Tensor> xs;
  for (const Shape& s : in) {
    Tensor x(s, model.size() ? model.layer(0).dtype() : DType::f32);
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, double(i % 7) - 3.0);
    xs.push_back(std::move(x));
  }
  (void)model.forward_many(xs, Mode::Inference);
  std::vector<Tensor> ys = model.forward_many(xs, Mode::Training);
  (void)model.backward_many(ys);
}

void npy(std::span<const std::byte> in) { (void)parse_npy(in); }

void safetensors(std::span<const std::byte> in) {
  TensorFile f = parse_safetensors(in);
  (void)serialize_safetensors(f);  // what was read can be written back
}

void idx(std::span<const std::byte> in) {
  IdxArray a = parse_idx(in);
  if (!a.data.empty()) (void)a.at(int64_t(a.data.size() / a.element_size()) - 1);
}

void spec(std::span<const std::byte> in) {
  Model model = parse_model(as_text(in));
  (void)model.spec();
  exercise(model);
}

void model(std::span<const std::byte> in) {
  Model m = load_model(in, "fuzz.safetensors");
  exercise(m);
}

void onnx(std::span<const std::byte> in) {
  Model m = parse_onnx(in);
  exercise(m);
}

// An HDF5 file image through the Keras .h5 loader (the HDF5 reader, the model config, the weights).
void hdf5(std::span<const std::byte> in) {
  KerasModel k = load_keras_h5(Hdf5File(in, "fuzz.h5"));
  exercise(k.model);
}

// A Keras 3 .keras archive (the zip reader, the in-memory weights .h5, the config).
void keras(std::span<const std::byte> in) {
  KerasModel k = parse_keras_archive(in, "fuzz.keras");
  exercise(k.model);
}

template <void (*F)(std::span<const std::byte>)>
void guarded(std::span<const std::byte> in) {
  try {
    F(in);
  } catch (const Error&) {  // the typed answer to bad input
  }
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"npy", guarded<npy>, npy},
                                          {"safetensors", guarded<safetensors>, safetensors},
                                          {"idx", guarded<idx>, idx},
                                          {"spec", guarded<spec>, spec},
                                          {"model", guarded<model>, model},
                                          {"onnx", guarded<onnx>, onnx},
                                          {"hdf5", guarded<hdf5>, hdf5},
                                          {"keras", guarded<keras>, keras}};
  return all;
}

const Target& target(std::string_view name) {
  for (const Target& t : targets())
    if (t.name == name) return t;
  throw std::invalid_argument("unknown fuzz target " + std::string(name));
}

void init() {
  set_num_threads(1);
  set_max_tensor_bytes(16 << 20);
}

}  // namespace locnet::fuzz
