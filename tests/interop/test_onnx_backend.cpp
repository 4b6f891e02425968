// The ONNX backend node tests (Debian's libonnx-testdata, ONNX 1.12; real files written by ONNX's own test
// generator with NumPy reference outputs): every single-node test whose operator the importer maps
// (include/locnet/interop/onnx.hpp) is imported from model.onnx, fed each test_data_set_*/input_*.pb and compared
// with output_*.pb at ONNX's backend tolerance (rtol 1e-3, atol 1e-7). A test whose options locnet cannot
// express ends in NotSupported and is counted as such; a wrong number or any other error fails. Skipped when the
// package is absent.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "locnet/interop/onnx.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

const char* kNodeTests = "/usr/share/libonnx-testdata/data/node";
const std::set<std::string> kOps = {"LRN",     "Relu", "Conv",    "MaxPool", "AveragePool", "BatchNormalization",
                                    "Concat",  "Add",  "Gemm",    "Flatten", "Softmax"};

std::vector<std::string> op_types(const fs::path& model) {
  std::ifstream f(model, std::ios::binary);
  onnx::ModelProto m;
  if (!m.ParseFromIstream(&f)) return {};
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

// "" when every output matches, else what differed.
std::string run_case(Model& model, const fs::path& dir) {
  std::vector<Tensor> xs, want;
  for (int i = 0; fs::exists(dir / fmt::format("input_{}.pb", i)); ++i)
    xs.push_back(read_onnx_tensor((dir / fmt::format("input_{}.pb", i)).string()));
  for (int i = 0; fs::exists(dir / fmt::format("output_{}.pb", i)); ++i)
    want.push_back(read_onnx_tensor((dir / fmt::format("output_{}.pb", i)).string()));
  std::vector<Tensor> got = model.forward_many(xs, Mode::Inference);
  if (got.size() != want.size()) return fmt::format("{} outputs, expected {}", got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    if (got[o].shape() != want[o].shape())
      return fmt::format("output {}: shape {}, expected {}", o, got[o].shape().str(), want[o].shape().str());
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      const double g = got[o].item(i), w = want[o].item(i);
      if (!(std::abs(g - w) <= 1e-7 + 1e-3 * std::abs(w)) && !(std::isnan(g) && std::isnan(w)))
        return fmt::format("output {} element {}: {}, expected {}", o, i, g, w);
    }
  }
  return "";
}

}  // namespace

TEST(OnnxBackend, NodeTestsOfSupportedOperators) {
  if (!fs::is_directory(kNodeTests)) GTEST_SKIP() << "libonnx-testdata is not installed";
  struct Count {
    int pass = 0, unsupported = 0, fail = 0;
  };
  std::map<std::string, Count> counts;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTests)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    const auto ops = op_types(dir / "model.onnx");
    if (ops.size() != 1 || !kOps.count(ops[0])) continue;
    Count& c = counts[ops[0]];
    const std::string name = dir.filename().string();
    try {
      Model model = read_onnx((dir / "model.onnx").string());
      std::string bad;
      for (const auto& set : fs::directory_iterator(dir))
        if (set.is_directory() && bad.empty()) bad = run_case(model, set.path());
      if (bad.empty()) {
        ++c.pass;
      } else {
        ++c.fail;
        ADD_FAILURE() << name << ": " << bad;
      }
    } catch (const NotSupported& e) {
      ++c.unsupported;
      std::cout << "  unsupported " << name << ": " << e.what() << "\n";
    } catch (const std::exception& e) {
      ++c.fail;
      ADD_FAILURE() << name << ": " << e.what();
    }
  }
  for (const auto& [op, c] : counts)
    std::cout << fmt::format("  {:<20} pass {:>3}  unsupported {:>3}  fail {:>3}\n", op, c.pass, c.unsupported, c.fail);
  EXPECT_GT(counts["LRN"].pass, 0);
}
