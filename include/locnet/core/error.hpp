// Typed errors raised at the API edge.
//
// Contract: every user-facing failure is one of these five types (never an abort), and the message reads
// "<where>: <what> must be <expected>, got <actual>" so that a user sees both sides without a debugger.
//   ConfigError  - an option or combination of options is invalid (raised at construction or build)
//   ShapeError   - a tensor's shape (or dtype) is not what the layer or link expects
//   FormatError  - a file or text is corrupt, truncated or of an unsupported layout
//   NotSupported - a valid request this build does not implement
//   DistError    - a data-parallel job's collective operation could not complete (a peer died or hung;
//                  core/collective.hpp); the message names the operation and the rank
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace locnet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ConfigError : public Error {
 public:
  using Error::Error;
};
class ShapeError : public Error {
 public:
  using Error::Error;
};
class FormatError : public Error {
 public:
  using Error::Error;
};
class NotSupported : public Error {
 public:
  using Error::Error;
};
class DistError : public Error {
 public:
  using Error::Error;
};

// Throws E with a fmt-formatted message.
template <class E, class... Args>
[[noreturn]] void raise(fmt::format_string<Args...> f, Args&&... args) {
  throw E(fmt::format(f, std::forward<Args>(args)...));
}

// Throws E("<where>: <what> must be <expected>, got <got>") unless ok.
template <class E, class Got>
void require(bool ok, std::string_view where, std::string_view what, std::string_view expected, const Got& got) {
  if (!ok) throw E(fmt::format("{}: {} must be {}, got {}", where, what, expected, got));
}

}  // namespace locnet
