// MPI data-parallel jobs (docs/distributed.md): `mpirun -np N locnet train ...`, or any program that calls
// world() and passes it to fit (FitOptions::collective). Built with -DLOCNET_MPI=ON (scripts/setup turns it on);
// without it the single-process build needs no MPI and world() is the single process.
// world(): on first call in a process started by an MPI launcher (mpirun/mpiexec, srun: detected from their
// environment), initializes MPI (a thread level that lets one communication thread call MPI) and returns
// MPI_COMM_WORLD as a Collective; otherwise local_collective(). Asynchronous sums run on that communication thread
// in the order issued, so they overlap the caller's work. MPI is finalized at exit.
// Failures: a collective that does not complete within timeout_s (a rank hung or died) is a DistError naming the
// operation, the rank and the timeout; abort_job ends every process of the job with a message on this rank's
// stderr (MPI_Abort), so no job hangs forever.
// Errors: NotSupported when started by an MPI launcher in a build without MPI; ConfigError for timeout_s <= 0.
#pragma once
#include <memory>
#include <string>

#include "locnet/core/collective.hpp"

namespace locnet::dist {

struct MpiOptions {
  double timeout_s = 300.0;  // LOCNET_DIST_TIMEOUT overrides it
};

bool mpi_available();    // this build has MPI
bool launched_by_mpi();  // this process was started by an MPI launcher
std::shared_ptr<Collective> world(const MpiOptions& options = {});
[[noreturn]] void abort_job(const std::string& message, int code = 1);

}  // namespace locnet::dist
