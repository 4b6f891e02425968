// dist/mpi.hpp without MPI (the default build): the single process. The MPI build adds its implementation here.
#include "locnet/dist/mpi.hpp"

#include <cstdio>
#include <cstdlib>

#include "locnet/core/error.hpp"

namespace locnet::dist {

bool mpi_available() { return false; }

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

std::shared_ptr<Collective> world(const MpiOptions& options) {
  if (!(options.timeout_s > 0)) raise<ConfigError>("dist: timeout_s must be > 0, got {}", options.timeout_s);
  if (launched_by_mpi())
    raise<NotSupported>("dist: this process was started by an MPI launcher, but locnet was built without MPI "
                        "(configure with -DLOCNET_MPI=ON; scripts/setup does)");
  return local_collective();
}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::exit(code);
}

}  // namespace locnet::dist
