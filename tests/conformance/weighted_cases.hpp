// The conformance check of a layer with a kernel and a bias (LocallyConnected, the convolutions): for every case of
// tests/conformance/<set>/cases.txt ("name|layer spec"), the layer built from the spec with the files' kernel and
// bias gives the files' y for x, and dx, dkernel and dbias for L = sum(y * dy), in f64 and f32, with the registry's
// own kernel choice and with `ref_impl` forced (LOCNET_IMPL). Returns the cases run; on_chosen gets each kernel
// the registry chose.
#pragma once
#include <functional>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"
#include "scoped_env.hpp"

namespace locnet::testing {

inline size_t check_weighted_cases(const std::string& set, const char* ref_impl,
                                   const std::function<void(const std::string&)>& on_chosen = {}) {
  const std::string dir = conformance_dir(set);
  const std::vector<std::string> cases = conformance_cases(dir);
  for (const std::string& line : cases) {
    size_t bar = line.find('|');
    EXPECT_NE(bar, std::string::npos) << line;
    if (bar == std::string::npos) continue;
    const std::string name = line.substr(0, bar), spec = line.substr(bar + 1);
    SCOPED_TRACE(name + ": " + spec);
    auto load = [&](const char* tag) { return read_npy(dir + name + "_" + tag + ".npy"); };
    Tensor x = load("x"), dy = load("dy"), kernel = load("kernel"), bias = load("bias");
    Tensor y_want = load("y"), dx_want = load("dx"), dk_want = load("dkernel"), db_want = load("dbias");
    for (const char* impl : {static_cast<const char*>(nullptr), ref_impl})
      for (DType dt : {DType::f64, DType::f32}) {
        SCOPED_TRACE(fmt::format("{} {}", impl ? impl : "chosen", dtype_name(dt)));
        auto layer = make_layer(parse_chain(spec)[0]);
        {
          ScopedEnv force("LOCNET_IMPL", impl);  // nullptr: the registry's own choice
          Rng rng(0);
          layer->build(x.shape().with_dim(0, Shape::kUnknown), rng, dt);
        }
        if (!impl && on_chosen) on_chosen(layer->kernel());
        auto ps = layer->params();
        EXPECT_EQ(ps.size(), 2u);
        if (ps.size() != 2 || ps[0]->value.shape() != kernel.shape() || ps[1]->value.shape() != bias.shape()) {
          ADD_FAILURE() << "parameters other than kernel " << kernel.shape().str() << ", bias " << bias.shape().str();
          continue;
        }
        ps[0]->value = kernel.to(dt);
        ps[1]->value = bias.to(dt);
        const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
        Tensor y = layer->forward(x.to(dt), Mode::Training);
        EXPECT_LE(max_scaled_error(y, y_want, tol, tol), 1.0);
        layer->zero_grad();
        Tensor dx = layer->backward(dy.to(dt));
        EXPECT_LE(max_scaled_error(dx, dx_want, tol, tol), 1.0);
        EXPECT_LE(max_scaled_error(ps[0]->grad, dk_want, tol, tol), 1.0);
        EXPECT_LE(max_scaled_error(ps[1]->grad, db_want, tol, tol), 1.0);
      }
  }
  return cases.size();
}

}  // namespace locnet::testing
