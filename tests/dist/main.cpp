// The MPI test program (tests/dist/): every rank runs every test; a rank's failure makes the job fail.
#include <gtest/gtest.h>

#include "locnet/dist/mpi.hpp"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto world = locnet::dist::world();  // MPI_Init before any test (and before gtest's threads)
  if (world->rank() != 0) {           // one rank prints the progress; every rank reports its failures
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
