// tests/scoped_env.hpp: the variable is what the scope set while it lives, and afterwards what it was before
// (a value, or unset), also when the scope is left by an exception; nested scopes unwind in order.
#include "scoped_env.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using locnet::testing::ScopedEnv;

namespace {

constexpr const char* kVar = "LOCNET_TEST_SCOPED_ENV";

std::string value() {
  const char* v = std::getenv(kVar);
  return v ? v : "<unset>";
}

}  // namespace

TEST(ScopedEnv, RestoresThePreviousValue) {
  ScopedEnv outer(kVar, "before");
  {
    ScopedEnv set(kVar, "during");
    EXPECT_EQ(value(), "during");
  }
  EXPECT_EQ(value(), "before");
  {
    ScopedEnv unset(kVar, nullptr);
    EXPECT_EQ(value(), "<unset>");
  }
  EXPECT_EQ(value(), "before");
}

TEST(ScopedEnv, RestoresUnset) {
  ScopedEnv outer(kVar, nullptr);
  {
    ScopedEnv set(kVar, std::string("during"));
    EXPECT_EQ(value(), "during");
    ScopedEnv empty(kVar, "");  // set but empty is not unset
    EXPECT_EQ(value(), "");
  }
  EXPECT_EQ(value(), "<unset>");
}

TEST(ScopedEnv, RestoresWhenTheScopeThrows) {
  ScopedEnv outer(kVar, "before");
  EXPECT_THROW(
      {
        ScopedEnv set(kVar, "during");
        throw std::runtime_error("leaving");
      },
      std::runtime_error);
  EXPECT_EQ(value(), "before");
  ScopedEnv unset(kVar, nullptr);
  EXPECT_THROW(
      {
        ScopedEnv set(kVar, "during");
        throw std::runtime_error("leaving");
      },
      std::runtime_error);
  EXPECT_EQ(value(), "<unset>");
}
