// LOCNET_IMPL=ref forces the reference kernel of every op, and LOCNET_VERBOSE=1 reports every choice: models that
// hold every layer type of the layer registry (Dense, Conv2D and LocallyConnected with an activation) run forward,
// backward and one step of each optimizer; every reported choice must name "ref" and every op of the kernel
// registry (kernels::library_ops()) must be reported. Without LOCNET_IMPL, the same run must choose an optimized
// kernel for every op that has one, so that the first test cannot pass because nothing was chosen.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "every_layer_models.hpp"
#include "kernels/registry.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/train/optimizers.hpp"
#include "scoped_env.hpp"

using namespace locnet;
using locnet::testing::filled;
using locnet::testing::kEveryLayerModels;

namespace {

const char* const kOptimizers[] = {"Adam", "AdamW", "SGD(0.01, momentum=0.9)", "SGD(0.01)",
                                   "RMSprop(momentum=0.5)", "Adagrad"};

// Builds every model, runs forward, backward and one step of every optimizer; returns each layer type seen with
// the kernels its layers report (Layer::kernel()).
std::map<std::string, std::set<std::string>> run_every_layer_and_optimizer() {
  std::map<std::string, std::set<std::string>> types;
  for (const char* spec : kEveryLayerModels) {
    SCOPED_TRACE(spec);
    Sequential model = parse_model(spec);
    model.build(*model.input_shape(), uint64_t(1));
    for (size_t i = 0; i < model.size(); ++i) types[model.layer(i).type()].insert(model.layer(i).kernel());
    const Shape in = model.input_shape()->with_dim(0, 2);
    Tensor y = model.forward(filled(in, 1), Mode::Training);
    model.backward(filled(y.shape(), 2));
    for (const char* opt : kOptimizers) make_optimizer(Value(std::string(opt)))->step(model);
  }
  return types;
}

// The choices reported on stderr while fn runs, as (op, kernel) in order.
template <class Fn>
std::vector<std::pair<std::string, std::string>> reported_choices(Fn&& fn) {
  ::testing::internal::CaptureStderr();
  try {
    fn();
  } catch (...) {
    ::testing::internal::GetCapturedStderr();
    throw;
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  // Each line: "locnet: <op>: using '<kernel>'[ (<why>)]" (kernels::log_choice).
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < err.size()) {
    size_t end = err.find('\n', pos);
    if (end == std::string::npos) end = err.size();
    const std::string line = err.substr(pos, end - pos);
    pos = end + 1;
    const std::string prefix = "locnet: ", using_ = ": using '";
    const size_t u = line.find(using_);
    if (line.rfind(prefix, 0) != 0 || u == std::string::npos) continue;
    const size_t q = line.find('\'', u + using_.size());
    out.emplace_back(line.substr(prefix.size(), u - prefix.size()), line.substr(u + using_.size(), q - u - using_.size()));
  }
  return out;
}

}  // namespace

TEST(ImplRefEverywhere, EveryOpOfEveryLayerAndOptimizerChoosesRef) {
  std::vector<std::pair<std::string, std::string>> choices;
  std::map<std::string, std::set<std::string>> types;
  {
    locnet::testing::ScopedEnv impl("LOCNET_IMPL", "ref"), verbose("LOCNET_VERBOSE", "1");
    choices = reported_choices([&] { types = run_every_layer_and_optimizer(); });
  }
  for (const std::string& t : layer_type_names()) EXPECT_TRUE(types.count(t)) << "no model holds layer type " << t;
  for (const auto& [type, kernels] : types) EXPECT_EQ(kernels, std::set<std::string>{"ref"}) << type;
  std::set<std::string> ops;
  for (const auto& [op, kernel] : choices) {
    EXPECT_EQ(kernel, "ref") << op;
    ops.insert(op);
  }
  for (const auto& [op, kernels] : kernels::library_ops()) EXPECT_TRUE(ops.count(op)) << "op never chosen: " << op;
  EXPECT_GE(ops.size(), 13u);  // activation, adagrad, adam, avg_pool, batch_norm, conv2d, dense, ... sgd
}

TEST(ImplRefEverywhere, WithoutItTheOptimizedKernelsAreChosen) {
  std::vector<std::pair<std::string, std::string>> choices;
  {
    locnet::testing::ScopedEnv impl("LOCNET_IMPL", nullptr), verbose("LOCNET_VERBOSE", "1");
    choices = reported_choices([] { run_every_layer_and_optimizer(); });
  }
  std::map<std::string, std::set<std::string>> chosen;
  for (const auto& [op, kernel] : choices) chosen[op].insert(kernel);
  int optimized_ops = 0;
  for (const auto& [op, kernels] : kernels::library_ops()) {
    if (kernels.size() < 2) continue;  // only a reference
    ++optimized_ops;
    const std::set<std::string>& names = chosen[op];
    EXPECT_TRUE(std::any_of(names.begin(), names.end(), [](const std::string& n) { return n != "ref"; }))
        << "no optimized kernel was chosen for " << op << " (" << names.size() << " choices)";
  }
  EXPECT_GE(optimized_ops, 8);  // activation, adam, batch_norm, conv2d, dense, locally_connected, lrn, max_pool
}
