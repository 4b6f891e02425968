// Implementation choice for one op: an ordered list (most specialised first, "ref" last) of kernels, each with
// applicable(problem, why). choose() runs once, in a layer's build():
//   LOCNET_IMPL=<name> or LOCNET_IMPL=<op>:<name>[,<op>:<name>...] forces an implementation (NotSupported if the
//   forced one does not apply to the problem; a name the op does not have is ignored for that op);
//   LOCNET_VERBOSE=1 prints the choice and why each earlier candidate was skipped, on stderr.
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "locnet/core/error.hpp"

namespace locnet::kernels {

// The implementation name LOCNET_IMPL forces for `op`, or "" when none is forced.
std::string forced_impl(std::string_view op);
bool verbose();
void log_choice(std::string_view op, std::string_view chosen, std::string_view reason);

// Kernel must have `const char* name` and `bool (*applicable)(const Problem&, std::string* why)`.
template <class Kernel, class Problem>
const Kernel& choose(std::string_view op, std::span<const Kernel> list, const Problem& p) {
  std::string forced = forced_impl(op);
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
