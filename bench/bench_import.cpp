// Importing a ~100 MB model (issue 30's speed item): the time to read the file's bytes, and each importer's time
// on the same file, so import minus read is the cost of the format. The files are written in the setup, once:
//   model.onnx         x (N, 5000) -> Gemm (W (5000, 5000) float, transB=1, bias): 100 MB of raw_data initializers
//   model.h5           the same Dense layer as Keras 2 writes it (model_config JSON, /model_weights/dense/...)
//   model.safetensors  the same model as a locnet model file (save_model)
// Rows: ReadBytes/<format> (read_file, the whole file), Import/<format> (load_any_model), BuildOnly (the same
// model built from its spec, no file). Acceptance: Import minus ReadBytes under a second for each. Figures:
// docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <hdf5.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "locnet/locnet.hpp"
#include "locnet/formats.hpp"
#include "roofline.hpp"

namespace {

constexpr int64_t kUnits = 5000;  // W: 5000 x 5000 floats = 100 MB

std::string dir() {
  static const std::string d = (std::filesystem::temp_directory_path() / "locnet_bench_import").string();
  return d;
}

std::vector<float> weights() {
  std::vector<float> w(size_t(kUnits * kUnits));
  locnet::Rng rng(1);
  for (float& v : w) v = float(rng.uniform(-0.01, 0.01));
  return w;
}

void write_onnx(const std::string& path, const std::vector<float>& w) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto value = [](onnx::ValueInfoProto* v, const char* name) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(kUnits);
  };
  value(g->add_input(), "x");
  value(g->add_output(), "y");
  auto init = [&](const char* name, std::vector<int64_t> dims, const float* data, size_t n) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data), n * sizeof(float)));
  };
  init("W", {kUnits, kUnits}, w.data(), w.size());
  init("B", {kUnits}, w.data(), size_t(kUnits));
  auto* n = g->add_node();
  n->set_op_type("Gemm");
  for (const char* i : {"x", "W", "B"}) n->add_input(i);
  n->add_output("y");
  auto* a = n->add_attribute();
  a->set_name("transB");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(1);
  std::ofstream out(path, std::ios::binary);
  m.SerializeToOstream(&out);
}

void string_attribute(hid_t at, const char* name, const std::string& value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(at, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, type, value.data());
  H5Aclose(a), H5Sclose(space), H5Tclose(type);
}

void dataset(hid_t at, const char* name, std::vector<hsize_t> dims, const float* data) {
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(at, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d), H5Sclose(space);
}

// Keras 2's model.save layout for Sequential([Dense(5000, input_shape=(5000,))]); kernel (in, out).
void write_h5(const std::string& path, const std::vector<float>& w) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  string_attribute(f, "keras_version", "2.2.4");
  string_attribute(f, "backend", "tensorflow");
  string_attribute(f, "model_config",
                   R"({"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", )"
                   R"("config": {"name": "dense", "units": 5000, "activation": "linear", "use_bias": true, )"
                   R"("batch_input_shape": [null, 5000]}}]}})");
  hid_t mw = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t names_type = H5Tcopy(H5T_C_S1);
  auto names = [&](hid_t at, const char* attr, std::vector<std::string> v) {  // fixed-length string arrays
    size_t len = 1;
    for (auto& s : v) len = std::max(len, s.size());
    std::string buf;
    for (auto& s : v) buf += s + std::string(len - s.size(), '\0');
    H5Tset_size(names_type, len);
    hsize_t n = v.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t a = H5Acreate2(at, attr, names_type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, names_type, buf.data());
    H5Aclose(a), H5Sclose(space);
  };
  names(mw, "layer_names", {"dense"});
  hid_t layer = H5Gcreate2(mw, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  names(layer, "weight_names", {"dense/kernel:0", "dense/bias:0"});
  hid_t sub = H5Gcreate2(layer, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dataset(sub, "kernel:0", {hsize_t(kUnits), hsize_t(kUnits)}, w.data());
  dataset(sub, "bias:0", {hsize_t(kUnits)}, w.data());
  H5Gclose(sub), H5Gclose(layer), H5Tclose(names_type), H5Gclose(mw), H5Fclose(f);
}

const std::string& file(const std::string& format) {
  static const std::string onnx = dir() + "/model.onnx", h5 = dir() + "/model.h5", st = dir() + "/model.safetensors";
  static const bool written = [] {
    std::filesystem::create_directories(dir());
    const std::vector<float> w = weights();
    write_onnx(onnx, w);
    write_h5(h5, w);
    locnet::Model m = locnet::load_any_model(onnx);
    locnet::save_model(m, st);
    return true;
  }();
  (void)written;
  return format == "onnx" ? onnx : format == "h5" ? h5 : st;
}

void ReadBytes(benchmark::State& state, const std::string& format) {
  const std::string& path = file(format);
  for (auto _ : state) benchmark::DoNotOptimize(locnet::read_file(path).data());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(std::filesystem::file_size(path)));
}

void Import(benchmark::State& state, const std::string& format) {
  const std::string& path = file(format);
  for (auto _ : state) {
    locnet::Model m = locnet::load_any_model(path);
    benchmark::DoNotOptimize(m.param_count());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(std::filesystem::file_size(path)));
}

// The part of every import that is not the file's: building the layer (allocating and initializing the kernel).
void BuildOnly(benchmark::State& state) {
  for (auto _ : state) {
    locnet::Model m = locnet::parse_model("Input((5000,)) >> Dense(5000)");
    m.build(*m.input_shape(), uint64_t(0));
    benchmark::DoNotOptimize(m.param_count());
  }
}

}  // namespace

BENCHMARK(BuildOnly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(ReadBytes, onnx, std::string("onnx"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Import, onnx, std::string("onnx"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(ReadBytes, h5, std::string("h5"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Import, h5, std::string("h5"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(ReadBytes, locnet, std::string("locnet"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Import, locnet, std::string("locnet"))->Unit(benchmark::kMillisecond)->UseRealTime();
int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
