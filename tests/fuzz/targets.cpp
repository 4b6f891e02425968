#include "fuzz/targets.hpp"

#include <stdexcept>
#include <string>

#include "locnet/locnet.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet::fuzz {

double forward_macs(const Sequential& model, Shape in) {
  double macs = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    const Layer& layer = model.layer(i);
    const Shape out = layer.output_shape(in);
    const double params = double(layer.param_count()), outs = double(out.numel());
    if (auto* conv = dynamic_cast<const Conv2D*>(&layer))  // every weight at every output position
      macs += params * outs / double(conv->cfg().filters);
    else if (dynamic_cast<const Dense*>(&layer))  // every weight once per row of the last axis
      macs += params * outs / double(out[out.rank() - 1]);
    else  // every weight once per sample (LocallyConnected, BatchNorm)
      macs += params * double(in[0]);
    macs += double(in.numel()) + outs;
    in = out;
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

void exercise(Sequential& model) {
  if (!model.input_shape()) return;
  const Shape in = model.input_shape()->with_dim(0, 2);
  if (in.numel() > 4096) return;
  if (!model.built()) model.build(*model.input_shape(), uint64_t(1));
  if (forward_macs(model, in) > kMaxMacs) return;
  Tensor x(in, model.size() ? model.layer(0).dtype() : DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, double(i % 7) - 3.0);
  (void)model.forward(x, Mode::Inference);
  Tensor y = model.forward(x, Mode::Training);
  (void)model.backward(y);
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
  Sequential model = parse_model(as_text(in));
  (void)model.spec();
  exercise(model);
}

void model(std::span<const std::byte> in) {
  Sequential m = load_model(in, "fuzz.safetensors");
  exercise(m);
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
                                          {"model", guarded<model>, model}};
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
