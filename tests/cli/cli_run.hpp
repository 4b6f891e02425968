// Runs the locnet binary (LOCNET_CLI_PATH) with arguments, each shell-quoted, and captures stdout+stderr.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

struct CliRun {
  int status;       // the exit status, or 128 + signal
  std::string out;  // stdout and stderr together
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q.append("'\\''");  // close, escaped quote, reopen
    else
      q.push_back(c);
  }
  q.push_back('\'');
  return q;
}

inline CliRun run(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(LOCNET_CLI_PATH);
  for (const auto& a : args) {
    cmd.push_back(' ');
    cmd.append(shell_quote(a));
  }
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {127, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}
