// Ranks as threads of one process: thread_group(n) returns n Collectives (core/collective.hpp), one per rank,
// each to be used by one thread. Each operation waits until every rank called it, then every rank reads the same
// result (sums in rank order), so the data-parallel trainer and SyncBatchNorm run exactly as under MPI without
// MPI (tests, tests/dist). An operation that some rank does not reach within `timeout_s` seconds is a DistError
// on the ranks that wait (no test hangs forever). Asynchronous sums complete before they return.
// Errors: ConfigError for n < 1 or timeout_s <= 0; ShapeError when the ranks pass different lengths or operations.
#pragma once
#include <memory>
#include <vector>

#include "locnet/core/collective.hpp"

namespace locnet::dist {

std::vector<std::shared_ptr<Collective>> thread_group(int n, double timeout_s = 60.0);

}  // namespace locnet::dist
