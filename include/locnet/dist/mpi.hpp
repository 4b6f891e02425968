// MPI data-parallel jobs (docs/distributed.md): `mpirun -np N locnet train ...`, or any program that calls
// world() and passes it to fit (FitOptions::collective). Built with -DLOCNET_MPI=ON (scripts/setup turns it on);
// without it the single-process build needs no MPI and world() is the single process.
// world(): on first call in a process started by an MPI launcher (mpirun/mpiexec, srun: detected from their
// environment), initializes MPI and returns MPI_COMM_WORLD as a Collective; otherwise local_collective(). One
// communication thread makes every MPI call, in the order this rank issued the operations (blocking or
// asynchronous), so asynchronous sums overlap the caller's work; it polls with growing sleeps (up to 200 us) rather
// than MPI's busy wait, leaving oversubscribed cores to the compute threads. Without OMP_NUM_THREADS the ranks of
// one machine share its cores (OpenMP threads = cores / local ranks). MPI is finalized at exit.
// Sums are MPI's (MPI_Allreduce): the order of the additions may change with N, so results of different N may differ
// in the last bits, but every rank gets the same bits.
// Failures: an operation that does not complete within timeout_s (LOCNET_DIST_TIMEOUT, in seconds, overrides it)
// is a DistError "<op>: rank r of N did not complete within T s (a rank died or hangs)"; that Collective then fails
// every later operation (the timed-out one stays queued, its buffer in use: end the job). MPI errors are DistErrors
// (MPI_ERRORS_RETURN). A finalize that does not complete within the timeout aborts the job. abort_job ends every
// process of the job: it prints "<program>: rank r of N: <message>" on stderr and calls MPI_Abort(MPI_COMM_WORLD,
// code) (a single process: prints the message and exits with code).
// Errors: NotSupported when started by an MPI launcher in a build without MPI; ConfigError for timeout_s <= 0 or a
// LOCNET_DIST_TIMEOUT that is not a number > 0.
#pragma once
#include <memory>
#include <string>

#include "locnet/core/collective.hpp"

namespace locnet::dist {

struct MpiOptions {
  double timeout_s = 300.0;  // per operation; LOCNET_DIST_TIMEOUT overrides it
};

bool mpi_available();    // this build has MPI
bool launched_by_mpi();  // this process was started by an MPI launcher
std::shared_ptr<Collective> world(const MpiOptions& options = {});
[[noreturn]] void abort_job(const std::string& message, int code = 1);

}  // namespace locnet::dist
