// locnet command-line tool. Exit status: 0 success, 2 usage or configuration error, 3 file error,
// 4 training stopped on a non-finite loss, 5 out of memory (1: an internal error, a bug).
// Under an MPI launcher (`mpirun -np N locnet train ...`, docs/distributed.md) every rank runs train and evaluate,
// rank 0 alone every other command; only rank 0 prints to stdout, and an error on any rank prints
// "locnet: rank r of N: error: ..." and ends the whole job with that exit status (dist::abort_job), so no rank
// waits forever for one that gave up.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "locnet/core/error.hpp"
#include "locnet/dist/mpi.hpp"

namespace {

// The job's group under an MPI launcher (null otherwise); ranks other than 0 keep quiet on stdout.
std::shared_ptr<locnet::Collective> g_group;

int fail(int code, const char* format, const char* message) {
  if (g_group && g_group->size() > 1) locnet::dist::abort_job(fmt::format(fmt::runtime(format), message), code);
  std::fprintf(stderr, "locnet: %s\n", fmt::format(fmt::runtime(format), message).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __linux__
  // libgomp reads its wait policy from the environment when it loads, before main. Its default spins at the end
  // of every parallel region; on a machine shared with other jobs a descheduled team thread then holds every
  // region for a whole time slice (a training step of the default network: 15 ms with passive waiting, 250 ms
  // with spinning, measured on 2 cores next to one compiler). So unless the user chose a policy, run again with
  // OMP_WAIT_POLICY=passive (LOCNET_KEEP_OMP_POLICY=1 keeps libgomp's default).
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT") && !std::getenv("LOCNET_KEEP_OMP_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::setenv("LOCNET_KEEP_OMP_POLICY", "1", 1);  // never twice, whatever happens to the first variable
    ::execv("/proc/self/exe", argv);             // returns only on failure: go on with the default policy
  }
#endif
  CLI::App app{"locnet: Local Response Normalization, LocallyConnected and Batch Normalization layers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", LOCNET_VERSION);
  locnet::cli::Action action;
  locnet::cli::add_summary(app, action);
  locnet::cli::add_info(app, action);
  locnet::cli::add_apply(app, action);
  locnet::cli::add_train(app, action);
  locnet::cli::add_evaluate(app, action);
  locnet::cli::add_predict(app, action);
  locnet::cli::add_convert(app, action);
  try {
    app.parse(argc, argv);
    if (locnet::dist::launched_by_mpi()) {
      g_group = locnet::dist::world();
      if (g_group->rank() != 0) {
        if (!std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
        // train and evaluate share the work; every other command (predict, convert, ...) runs on rank 0 alone
        const std::string command = app.get_subcommands().front()->get_name();
        if (command != "train" && command != "evaluate") return 0;
      }
    }
    return action();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(2, "{} (see locnet --help)", e.what());
  } catch (const locnet::FormatError& e) {
    return fail(3, "error: {}", e.what());
  } catch (const locnet::Error& e) {
    return fail(2, "error: {}", e.what());
  } catch (const std::bad_alloc& e) {
    return fail(5, "error: out of memory: {}", e.what());
  } catch (const std::exception& e) {
    return fail(1, "internal error: {}", e.what());
  }
}
