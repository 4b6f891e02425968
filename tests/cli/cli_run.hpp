// Runs the locnet binary (LOCNET_CLI_PATH) with arguments, each shell-quoted, and captures stdout+stderr.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

// AddressSanitizer and ThreadSanitizer reserve terabytes of address space for their shadow memory, so a binary
// built with them cannot start under an address-space limit (`ulimit -v`), and its memory use is not the
// program's own. Tests that measure memory run in the ordinary build only.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOCNET_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOCNET_TEST_SANITIZED 1
#endif
#ifdef LOCNET_TEST_SANITIZED
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

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
