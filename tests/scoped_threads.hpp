// ScopedThreads: the thread count (locnet/core/parallel.hpp) a scope started with is put back when it ends, also on
// a failed ASSERT or an exception; set_num_threads(0) would put back the default instead, whatever it was before.
#pragma once
#include "locnet/core/parallel.hpp"

namespace locnet::testing {

struct ScopedThreads {
  int saved = num_threads();
  ~ScopedThreads() { set_num_threads(saved); }
};

}  // namespace locnet::testing
