// ScopedEnv: sets an environment variable (or, given nullptr, removes it) for one scope, then puts back what was
// there before: the previous value, or no variable at all. The destructor also runs when the scope is left by an
// exception or a failed ASSERT, so a test that fails leaks no LOCNET_IMPL into the tests after it. Variables read
// when a layer is built (LOCNET_IMPL, LOCNET_VERBOSE) or a child process starts (the CLI tests) only need to be
// set that long.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

namespace locnet::testing {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    assign(value);
  }
  ScopedEnv(const char* name, const std::string& value) : ScopedEnv(name, value.c_str()) {}
  ~ScopedEnv() { assign(previous_ ? previous_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void assign(const char* value) const {
    if (value)
      ::setenv(name_.c_str(), value, 1);
    else
      ::unsetenv(name_.c_str());
  }
  std::string name_;
  std::optional<std::string> previous_;
};

}  // namespace locnet::testing
