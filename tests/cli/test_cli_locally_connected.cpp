// `locnet` with LocallyConnected layers: summary of Keras's documented example, apply with --weights (Keras
// implementations 1, 2 and 3) and --grad-output, and the error statuses.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "temp_dir.hpp"
#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"
#include "scoped_env.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class CliLc : public locnet::testing::TempDirTest {};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// x (2, 4, 5, 3) -> LocallyConnected2D(2, (2, 3)), valid, channels_last: OH = 3, OW = 3, P = 9, K = 18, F = 2.
constexpr int64_t N = 2, H = 4, W = 5, C = 3, F = 2, KH = 2, KW = 3, OH = 3, OW = 3, P = 9, K = 18;
const char* kSpec = "LocallyConnected2D(2, (2, 3), name='lc')";

// Keras implementation 1: y[n, r, c, f] = b[(r*OW + c)*F + f] + sum x[n, r+dy, c+dx, ch] W1[p, (dy*KW+dx)*C+ch, f]
double expected(const Tensor& x, const Tensor& k, const Tensor& b, int64_t n, int64_t r, int64_t c, int64_t f) {
  int64_t p = r * OW + c;
  double acc = b.item(p * F + f);
  for (int64_t dy = 0; dy < KH; ++dy)
    for (int64_t dx = 0; dx < KW; ++dx)
      for (int64_t ch = 0; ch < C; ++ch)
        acc += x.item(((n * H + r + dy) * W + c + dx) * C + ch) * k.item((p * K + (dy * KW + dx) * C + ch) * F + f);
  return acc;
}

// One random kernel and bias, written as w1/w2/w3.safetensors in the layouts of Keras implementations 1, 2
// (H, W, C, OH, OW, F, with masked-out entries set to garbage as Keras leaves them) and 3 ([p][f][dy][dx][ch]).
struct KerasKernels {
  Tensor x, k, b, k2, k3;
};

KerasKernels write_every_implementation(const std::function<std::string(const std::string&)>& path) {
  KerasKernels w;
  w.x = locnet::testing::random_tensor(Shape{N, H, W, C}, DType::f32, 1);
  w.k = locnet::testing::random_tensor(Shape{P, K, F}, DType::f32, 2);
  w.b = locnet::testing::random_tensor(Shape{OH, OW, F}, DType::f32, 3);
  w.k2 = locnet::testing::random_tensor(Shape{H, W, C, OH, OW, F}, DType::f32, 4);
  w.k3 = Tensor(Shape{P * K * F}, DType::f32);
  for (int64_t r = 0; r < OH; ++r)
    for (int64_t c = 0; c < OW; ++c)
      for (int64_t dy = 0; dy < KH; ++dy)
        for (int64_t dx = 0; dx < KW; ++dx)
          for (int64_t ch = 0; ch < C; ++ch)
            for (int64_t f = 0; f < F; ++f) {
              int64_t p = r * OW + c;
              double v = w.k.item((p * K + (dy * KW + dx) * C + ch) * F + f);
              w.k2.set((((((r + dy) * W + c + dx) * C + ch) * OH + r) * OW + c) * F + f, v);
              w.k3.set((((p * F + f) * KH + dy) * KW + dx) * C + ch, v);
            }
  write_npy(path("x.npy"), w.x);
  write_safetensors(path("w1.safetensors"), TensorFile{{{"lc.kernel", w.k}, {"lc.bias", w.b}}, {}});
  write_safetensors(path("w2.safetensors"), TensorFile{{{"lc.kernel", w.k2}, {"lc.bias", w.b}}, {}});
  write_safetensors(path("w3.safetensors"), TensorFile{{{"lc.kernel", w.k3}, {"lc.bias", w.b}}, {}});
  return w;
}

}  // namespace

TEST_F(CliLc, SummaryOfTheSeedExample) {
  CliRun r = run({"summary", "Input((32, 32, 3)) >> LocallyConnected2D(64, (3, 3)) >> LocallyConnected2D(32, (3, 3))"});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"(None, 30, 30, 64)", "1,612,800", "(None, 28, 28, 32)", "14,475,776",
                        "Total params: 16,088,576"})
    EXPECT_TRUE(contains(r.out, s)) << s << "\n" << r.out;
  CliRun info = run({"info", "LocallyConnected1D"});
  ASSERT_EQ(info.status, 0) << info.out;
  for (const char* s : {"filters", "kernel_size", "padding", "\"valid\"", "data_format", "dilation_rate",
                        "kernel_regularizer", "\"glorot_uniform\""})
    EXPECT_TRUE(contains(info.out, s)) << s << "\n" << info.out;
}

TEST_F(CliLc, ApplyWithWeightsOfEveryKerasImplementation) {
  const auto [x, k, b, k2, k3] = write_every_implementation([this](const std::string& n) { return path(n); });
  for (int impl : {1, 2, 3}) {
    SCOPED_TRACE(impl);
    CliRun r = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path(fmt::format("w{}.safetensors", impl)),
                    "--keras-implementation", std::to_string(impl), "--output", path("y.npy")});
    ASSERT_EQ(r.status, 0) << r.out;
    Tensor y = read_npy(path("y.npy"));
    ASSERT_EQ(y.shape(), (Shape{N, OH, OW, F}));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j)
          for (int64_t f = 0; f < F; ++f)
            EXPECT_NEAR(y.item(((n * OH + i) * OW + j) * F + f), expected(x, k, b, n, i, j, f), 1e-5);
  }
}

TEST_F(CliLc, ImplementationOptionLoadsAndSavesItsLayout) {
  const auto [x, k, b, k2, k3] = write_every_implementation([this](const std::string& n) { return path(n); });
  // implementation=N on the layer reads the same files without the flag, and --save-weights writes its layout.
  for (int impl : {2, 3}) {
    SCOPED_TRACE(impl);
    std::string spec = fmt::format("LocallyConnected2D(2, (2, 3), name='lc', implementation={})", impl);
    CliRun r = run({"apply", spec, "--input", path("x.npy"), "--weights", path(fmt::format("w{}.safetensors", impl)),
                    "--output", path("y.npy"), "--save-weights", path("saved.safetensors")});
    ASSERT_EQ(r.status, 0) << r.out;
    Tensor y = read_npy(path("y.npy"));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j)
          for (int64_t f = 0; f < F; ++f)
            EXPECT_NEAR(y.item(((n * OH + i) * OW + j) * F + f), expected(x, k, b, n, i, j, f), 1e-5);
    TensorFile saved = read_safetensors(path("saved.safetensors"));
    const Tensor* sk = saved.find("lc.kernel");
    ASSERT_NE(sk, nullptr);
    const Tensor& want = impl == 2 ? k2 : k3;
    ASSERT_EQ(sk->shape(), want.shape());
    int64_t zeros = 0;
    for (int64_t e = 0; e < want.numel(); ++e) {
      // implementation 2's masked-out entries are written as zeros (locnet keeps no value for them).
      if (impl == 2 && sk->item(e) == 0.0 && want.item(e) != 0.0) {
        ++zeros;
        continue;
      }
      ASSERT_EQ(sk->item(e), want.item(e)) << e;
    }
    if (impl == 2) {
      EXPECT_EQ(zeros, k2.numel() - P * K * F);
    }
    // The file the layer wrote loads back into the same layer.
    CliRun again = run({"apply", spec, "--input", path("x.npy"), "--weights", path("saved.safetensors"), "--output",
                        path("y2.npy")});
    ASSERT_EQ(again.status, 0) << again.out;
    EXPECT_TRUE(read_npy(path("y2.npy")).equal(y));
  }
  // A file of another implementation says which one it looks like and how to load it.
  CliRun bad = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path("w2.safetensors"), "--output",
                    path("y.npy")});
  EXPECT_EQ(bad.status, 3) << bad.out;
  EXPECT_TRUE(contains(bad.out, "the shape of a Keras implementation-2 kernel")) << bad.out;
  EXPECT_TRUE(contains(bad.out, "--keras-implementation 2")) << bad.out;
  bad = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path("w3.safetensors"), "--keras-implementation",
             "2", "--output", path("y.npy")});
  EXPECT_EQ(bad.status, 3) << bad.out;
  EXPECT_TRUE(contains(bad.out, "implementation-3 kernel")) << bad.out;
  bad = run({"apply", fmt::format("LocallyConnected2D(2, (2, 3), name='lc', implementation=3)"), "--input",
             path("x.npy"), "--weights", path("w1.safetensors"), "--output", path("y.npy")});
  EXPECT_EQ(bad.status, 3) << bad.out;
  EXPECT_TRUE(contains(bad.out, "implementation-1 kernel")) << bad.out;
  bad = run({"apply", fmt::format("LocallyConnected2D(2, (2, 3), name='lc', implementation=3)"), "--input",
             path("x.npy"), "--weights", path("w2.safetensors"), "--keras-implementation", "2", "--output",
             path("y.npy")});
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_TRUE(contains(bad.out, "says implementation=3")) << bad.out;
}

TEST_F(CliLc, ApplyBackwardBothLayersMatchesReference) {
  for (const char* spec : {"LocallyConnected1D(3, 2, strides=2, padding='causal', data_format='channels_first', "
                           "dilation_rate=2, name='lc')",
                           "LocallyConnected2D(3, (3, 2), padding='same', strides=(2, 1), name='lc')"}) {
    SCOPED_TRACE(spec);
    bool one = contains(spec, "1D");
    Shape in = one ? Shape{3, 4, 7} : Shape{3, 5, 4, 4};
    Shape out = one ? Shape{3, 3, 4} : Shape{3, 3, 4, 3};
    Tensor x = locnet::testing::random_tensor(in, DType::f64, 1);
    Tensor dy = locnet::testing::random_tensor(out, DType::f64, 2);
    write_npy(path("x.npy"), x);
    write_npy(path("dy.npy"), dy);
    CliRun r = run({"apply", spec, "--input", path("x.npy"), "--output", path("y.npy"), "--grad-output",
                    path("dy.npy"), "--grad-input", path("dx.npy"), "--grad-params", path("g.safetensors")});
    ASSERT_EQ(r.status, 0) << r.out;
    CliRun ref = [&] {
      locnet::testing::ScopedEnv force("LOCNET_IMPL", "locally_connected:ref");
      return run({"apply", spec, "--input", path("x.npy"), "--output", path("yr.npy"), "--grad-output",
                  path("dy.npy"), "--grad-input", path("dxr.npy"), "--grad-params", path("gr.safetensors")});
    }();
    ASSERT_EQ(ref.status, 0) << ref.out;
    Tensor y = read_npy(path("y.npy")), dx = read_npy(path("dx.npy"));
    EXPECT_EQ(y.shape(), out);
    EXPECT_EQ(dx.shape(), in);
    EXPECT_LE(max_scaled_error(y, read_npy(path("yr.npy")), 1e-12, 1e-12), 1.0);
    EXPECT_LE(max_scaled_error(dx, read_npy(path("dxr.npy")), 1e-12, 1e-12), 1.0);
    TensorFile g = read_safetensors(path("g.safetensors")), gr = read_safetensors(path("gr.safetensors"));
    ASSERT_NE(g.find("lc.kernel"), nullptr);
    EXPECT_LE(max_scaled_error(*g.find("lc.kernel"), *gr.find("lc.kernel"), 1e-12, 1e-12), 1.0);
    // db = dy summed over the batch, in the output's memory order (docs/locally_connected.md), whatever the format.
    const Tensor* db = g.find("lc.bias");
    ASSERT_NE(db, nullptr);
    int64_t block = dy.numel() / 3;
    for (int64_t i = 0; i < block; ++i)
      EXPECT_NEAR(db->item(i), dy.item(i) + dy.item(block + i) + dy.item(2 * block + i), 1e-12);
  }
}

TEST_F(CliLc, Errors) {
  Tensor x = locnet::testing::random_tensor(Shape{N, H, W, C}, DType::f32, 1);
  write_npy(path("x.npy"), x);
  write_safetensors(path("bad.safetensors"),
                    TensorFile{{{"lc.kernel", Tensor(Shape{P, K, 3})}, {"lc.bias", Tensor(Shape{OH, OW, F})}}, {}});
  CliRun r = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path("bad.safetensors"), "--output",
                  path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "weights: key 'lc.kernel' must have shape (9, 18, 2), got (9, 18, 3)")) << r.out;
  r = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path("bad.safetensors"), "--keras-implementation",
           "2", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "key 'lc.kernel' (Keras implementation 2) must have shape (4, 5, 3, 3, 3, 2), got "
                              "(9, 18, 3)"))
      << r.out;
  r = run({"apply", kSpec, "--input", path("x.npy"), "--weights", path("bad.safetensors"), "--keras-implementation",
           "4", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "implementation must be 1, 2 or 3, got 4")) << r.out;
  r = run({"apply", kSpec, "--input", path("x.npy"), "--keras-implementation", "2", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "--keras-implementation needs --weights")) << r.out;
  r = run({"apply", "LocallyConnected2D(2, 5)", "--input", path("x.npy"), "--output", path("y.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "the kernel extent along rows ((kernel - 1) * dilation + 1 = 5) must be <= the input "
                              "length (4)"))
      << r.out;
  r = run({"summary", "Input((8, 3)) >> LocallyConnected1D(2, 3, padding='reflect')"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "padding must be \"valid\", \"same\", \"causal\" or explicit zeros, got \"reflect\""))
      << r.out;
  EXPECT_FALSE(fs::exists(path("y.npy")));
}
