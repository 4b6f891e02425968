// Implementation choice for one op: an ordered list (most specialised first, "ref" last) of kernels, each with
// applicable(problem, why). choose() runs once, in a layer's build():
//   LOCNET_IMPL=<name> or LOCNET_IMPL=<op>:<name>[,<op>:<name>...] forces an implementation (NotSupported if the
//   forced one does not apply to the problem; a plain name the op does not have is ignored for that op, but an
//   op that does not exist, or a name no op / not that op has, is a ConfigError listing every op's kernels);
//   LOCNET_VERBOSE=1 prints the choice and why each earlier candidate was skipped, on stderr.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "locnet/core/error.hpp"

namespace locnet::kernels {

// Every op that chooses its kernel through choose(), by the op name the layers and optimizers pass to it, with
// its kernels' names in order.
using OpImpls = std::vector<std::pair<std::string, std::vector<std::string>>>;
OpImpls library_ops();

// The implementation name LOCNET_IMPL forces for `op` (whose kernels are `names`), or "" when none is forced.
// ConfigError for an item of LOCNET_IMPL that names no op or kernel of the library (nor `op` and `names`).
std::string forced_impl(std::string_view op, const std::vector<std::string>& names);
bool verbose();
void log_choice(std::string_view op, std::string_view chosen, std::string_view reason);

// Kernel must have `const char* name` and `bool (*applicable)(const Problem&, std::string* why)`.
template <class Kernel, class Problem>
const Kernel& choose(std::string_view op, std::span<const Kernel> list, const Problem& p) {
  std::vector<std::string> names;
  for (const Kernel& k : list) names.emplace_back(k.name);
  std::string forced = forced_impl(op, names);
  bool forced_here = false;
  for (const Kernel& k : list) forced_here |= forced == k.name;
  std::string skipped;
  for (const Kernel& k : list) {
    if (forced_here && forced != k.name) continue;
    std::string why;
    if (k.applicable(p, &why)) {
      log_choice(op, k.name, forced_here ? std::string("forced by LOCNET_IMPL") : skipped);
      return k;
    }
    if (forced_here)
      raise<NotSupported>("{}: implementation '{}' forced by LOCNET_IMPL does not apply: {}", op, forced, why);
    skipped += fmt::format("{}skipped '{}': {}", skipped.empty() ? "" : "; ", k.name, why);
  }
  raise<NotSupported>("{}: no implementation applies ({})", op, skipped);
}

// Caches choose()'s answer per element type, for ops that learn their dtype only at their first call (the
// optimizers, ActivationFn): the choice is still made once per dtype, not per call.
template <class Kernel>
class ChosenByDtype {
 public:
  template <class Problem>
  const Kernel& get(std::string_view op, std::span<const Kernel> list, const Problem& p) {
    const Kernel*& k = chosen_[size_t(p.dtype)];
    if (!k) k = &choose(op, list, p);
    return *k;
  }

 private:
  const Kernel* chosen_[8] = {};
};

}  // namespace locnet::kernels

// Defines `std::span<const Kernel> list_fn()`: the ordered kernel list of one op (most specialised first, "ref"
// last), from the kernels' names as each kernel file defines them (`extern const Kernel kName{...}`).
#define LOCNET_KERNEL_LIST(Kernel, list_fn, ...)    \
  namespace locnet::kernels {                      \
  extern const Kernel __VA_ARGS__;                 \
  std::span<const Kernel> list_fn() {              \
    static const Kernel list[] = {__VA_ARGS__};    \
    return list;                                   \
  }                                                \
  }
