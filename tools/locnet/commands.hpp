// Subcommands of the `locnet` tool. Each add_* registers its options on the app and sets the action to run.
// Errors propagate as locnet exceptions; main() turns them into one stderr line and an exit status.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace locnet::cli {

using Action = std::function<int()>;

// For unsigned options such as --seed: CLI11 would read -1 as 2^64 - 1.
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& s) { return s.starts_with('-') ? "must be an integer >= 0, got " + s : std::string(); },
      "INT>=0");
}

void add_summary(CLI::App& app, Action& action);
void add_info(CLI::App& app, Action& action);
void add_apply(CLI::App& app, Action& action);
void add_train(CLI::App& app, Action& action);
void add_evaluate(CLI::App& app, Action& action);
void add_predict(CLI::App& app, Action& action);
void add_convert(CLI::App& app, Action& action);

}  // namespace locnet::cli
