// The implementation registry: order, LOCNET_IMPL forcing, LOCNET_VERBOSE reporting.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "kernels/registry.hpp"
#include "kernels/stream.hpp"
#include "kernels/toy_op.hpp"
#include "locnet/layers/dense.hpp"
#include "scoped_env.hpp"

using namespace locnet;

namespace {
using namespace locnet::testing::toy;

struct EnvGuard {  // LOCNET_IMPL and LOCNET_VERBOSE for one scope (nullptr: unset)
  EnvGuard(const char* impl, const char* verbose) : impl_("LOCNET_IMPL", impl), verbose_("LOCNET_VERBOSE", verbose) {}
  locnet::testing::ScopedEnv impl_, verbose_;
};
std::string choose_name(int size) {
  return kernels::choose<Kernel>("toy", std::span<const Kernel>(kList), Problem{size}).name;
}
}  // namespace

TEST(Registry, FirstApplicableInOrder) {
  EnvGuard env(nullptr, nullptr);
  EXPECT_EQ(choose_name(4), "fast");
  EXPECT_EQ(choose_name(3), "ref");
}

TEST(Registry, ForcedByName) {
  EnvGuard env("ref", nullptr);
  EXPECT_EQ(choose_name(4), "ref");
}

TEST(Registry, ForcedPerOpAndOtherOpsIgnored) {
  {
    EnvGuard env("dense:ref,toy:ref", nullptr);
    EXPECT_EQ(choose_name(4), "ref");
  }
  {
    EnvGuard env("dense:ref", nullptr);
    EXPECT_EQ(choose_name(4), "fast");
  }
  {
    EnvGuard env("im2col", nullptr);  // another op's kernel: this op keeps its own choice
    EXPECT_EQ(choose_name(4), "fast");
  }
}

// A typo used to be ignored, so the default kernels ran while the user believed one was forced.
TEST(Registry, UnknownOpOrKernelInLocnetImplIsAnError) {
  struct Row {
    const char *env, *bad;
  };
  for (Row r : {Row{"lrm:ref", "lrm:ref"}, Row{"lrn:nonexistent", "lrn:nonexistent"}, Row{"avx9000", "avx9000"},
                Row{"toy:ref,lrn:nonexistent", "lrn:nonexistent"}, Row{"toy:slow", "toy:slow"}}) {
    const char* bad = r.bad;
    EnvGuard env(r.env, nullptr);
    try {
      choose_name(4);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("LOCNET_IMPL"), std::string::npos) << msg;
      // The message lists the ops and their kernels, the library's and the one being chosen.
      EXPECT_NE(msg.find("lrn (hwy, ref)"), std::string::npos) << msg;
      EXPECT_NE(msg.find("toy (fast, ref)"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("'") + bad + "'") , std::string::npos) << msg;
    }
  }
}

TEST(Registry, ForcedButNotApplicableIsNotSupported) {
  EnvGuard env("fast", nullptr);
  EXPECT_THROW_MSG(choose_name(3), NotSupported, "'fast' forced by LOCNET_IMPL does not apply: size must be even");
}

TEST(Registry, VerboseExplainsTheChoice) {
  EnvGuard env(nullptr, "1");
  ::testing::internal::CaptureStderr();
  choose_name(3);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("toy: using 'ref' (skipped 'fast': size must be even)"), std::string::npos) << err;
}

TEST(Registry, DenseHonoursLocnetImpl) {
  EnvGuard env("dense:ref", "1");
  ::testing::internal::CaptureStderr();
  Rng rng(0);
  Dense d(2);
  d.build(Shape{1, 3}, rng);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("dense: using 'ref' (forced by LOCNET_IMPL)"), std::string::npos) << err;
}

// A scope restores the threshold it found, so a test's scope inside another keeps the outer one's setting.
TEST(StreamThreshold, ScopesNestAndRestoreThePreviousValue) {
  const int64_t default_bytes = kernels::stream_min_bytes();
  {
    kernels::StreamMinBytesScope outer(0);
    {
      kernels::StreamMinBytesScope inner(12345);
      EXPECT_EQ(kernels::stream_min_bytes(), 12345);
    }
    EXPECT_EQ(kernels::stream_min_bytes(), 0);
  }
  EXPECT_EQ(kernels::stream_min_bytes(), default_bytes);
}
