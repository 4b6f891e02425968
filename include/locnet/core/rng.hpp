// Seeded random numbers with the same sequence on every platform and compiler (xoshiro256**, seeded by
// splitmix64; uniform from the top 53 bits; normal by Box-Muller). Same seed -> same parameters -> same run.
#pragma once
#include <cstdint>

namespace locnet {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal(double mean = 0.0, double stddev = 1.0);
  // Normal truncated at two standard deviations by redrawing, as Keras's truncated_normal does.
  double truncated_normal(double mean, double stddev);
  uint64_t below(uint64_t n);  // uniform integer in [0, n)
  Rng split();                 // an independent stream derived from this one

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace locnet
