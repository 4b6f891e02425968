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
#include <vector>

#include "locnet/core/error.hpp"

namespace locnet::kernels {

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

}  // namespace locnet::kernels
