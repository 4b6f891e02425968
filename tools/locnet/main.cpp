// locnet command-line tool. Exit status: 0 success, 2 usage or configuration error, 3 file error,
// 4 training stopped on a non-finite loss, 5 out of memory (1: an internal error, a bug).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "locnet/core/error.hpp"

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
    return action();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "locnet: %s (see locnet --help)\n", e.what());
    return 2;
  } catch (const locnet::FormatError& e) {
    std::fprintf(stderr, "locnet: error: %s\n", e.what());
    return 3;
  } catch (const locnet::Error& e) {
    std::fprintf(stderr, "locnet: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc& e) {
    std::fprintf(stderr, "locnet: error: out of memory: %s\n", e.what());
    return 5;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locnet: internal error: %s\n", e.what());
    return 1;
  }
}
