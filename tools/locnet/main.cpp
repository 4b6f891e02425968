// locnet command-line tool. Exit status: 0 success, 2 usage or configuration error, 3 file error,
// 4 training stopped on a non-finite loss.
#include <cstdio>

#include "commands.hpp"
#include "locnet/core/error.hpp"

int main(int argc, char** argv) {
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
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locnet: internal error: %s\n", e.what());
    return 1;
  }
}
