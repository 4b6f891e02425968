// The CLI's files: outputs through symlinks, into FIFOs and devices, read-only directories; endless inputs;
// files of the wrong format; out of memory (exit status 5).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/cli_run.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

struct Measured {
  int status;
  std::string out;
  long max_rss_kib;
  double seconds;
};

// Runs `sh -c "<shell_prefix> locnet <args>"` and measures the process the shell waits for: the prefix ends in
// `exec` so that this is the CLI itself. It may set a ulimit, so that a reader that does not stop fails at 4 GB
// instead of exhausting the machine's memory.
Measured run_measured(const std::string& shell_prefix, const std::vector<std::string>& args) {
  std::string cmd = shell_prefix + " " + shell_quote(LOCNET_CLI_PATH);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  int fds[2];
  if (::pipe(fds) != 0) return {127, "pipe failed", 0, 0};
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  ::close(fds[0]);
  int st = 0;
  rusage ru{};
  ::wait4(pid, &st, 0, &ru);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out, ru.ru_maxrss, s};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CliFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_cli_files_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Tensor x(Shape{2, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i) / 8;
    write_npy(path("x.npy"), x);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  CliRun apply_to(const std::string& output) { return run({"apply", "Dense(3)", "--input", path("x.npy"), "--output", output}); }
  fs::path dir_;
};

}  // namespace

TEST_F(CliFiles, OutputThroughSymlinkKeepsTheLink) {
  fs::create_symlink("y.npy", path("link.npy"));  // dangling until the first write
  CliRun r = apply_to(path("link.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_symlink(path("link.npy")));
  EXPECT_EQ(read_npy(path("y.npy")).shape(), Shape({2, 3}));
  r = apply_to(path("link.npy"));  // now replacing an existing target
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_symlink(path("link.npy")));
  EXPECT_EQ(read_npy(path("link.npy")).shape(), Shape({2, 3}));
}

TEST_F(CliFiles, OutputIntoFifoReachesTheReader) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  fs::create_hard_link(path("fifo"), path("fifo.keep"));  // reaches the FIFO even if a rename replaced "fifo"
  std::string received;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    received = slurp(path("fifo"));
    done = true;
  });
  CliRun r = apply_to(path("fifo"));
  // A writer that never opened the FIFO leaves the reader waiting in open(): open and close it to end the read.
  while (!done) {
    if (int w = ::open(path("fifo.keep").c_str(), O_WRONLY | O_NONBLOCK); w >= 0) ::close(w);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reader.join();
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_fifo(path("fifo")));
  EXPECT_EQ(parse_npy(std::as_bytes(std::span(received.data(), received.size()))).shape(), Shape({2, 3}));
}

TEST_F(CliFiles, FullDeviceGivesExit3WithEnospcAndStaysADevice) {
  // Our own node for /dev/full (char 1:7): an old binary renaming over it must not replace the real one.
  if (::mknod(path("full").c_str(), S_IFCHR | 0666, ::makedev(1, 7)) != 0) GTEST_SKIP() << "cannot mknod";
  CliRun r = apply_to(path("full"));
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find(path("full") + ": write failed: No space left on device (ENOSPC)"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_character_file(path("full")));
  // The same for the safetensors writer.
  r = run({"apply", "Dense(3)", "--input", path("x.npy"), "--output", path("y.npy"), "--save-weights", path("full")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("(ENOSPC)"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_character_file(path("full")));
}

TEST_F(CliFiles, OutputInReadOnlyDirectoryFailsAndKeepsTheOldFile) {
  // The directory is root's (0755) and the CLI runs as "nobody" (root ignores permissions): the temporary file
  // cannot be made, so the writable old file must stay as it was.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the CLI as another user";
  if (::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "setpriv (util-linux) is missing";
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  { std::ofstream(path("y.npy")) << "old"; }
  fs::permissions(path("y.npy"), fs::perms::all);
  fs::permissions(path("x.npy"), fs::perms::all);
  Measured r = run_measured("exec setpriv --reuid=65534 --regid=65534 --clear-groups",
                            {"apply", "Dense(3)", "--input", path("x.npy"), "--output", path("y.npy")});
  if (r.out.find("Permission denied") != std::string::npos && r.out.find("cannot create temporary") == std::string::npos)
    GTEST_SKIP() << "nobody cannot run the CLI here: " << r.out;
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("cannot create temporary file"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(path("y.npy")), "old");
}

TEST_F(CliFiles, EndlessInputExits3AtOnceInLittleMemory) {
  if (kSanitizedBuild) GTEST_SKIP() << "memory limits and measurements need the ordinary build (see cli_run.hpp)";
  const std::string limit = "ulimit -v 4000000;";  // KiB: a reader that does not stop dies here
  const std::string exec = limit + " exec";
  Measured r = run_measured(exec, {"apply", "Dense(2)", "--input", "/dev/zero", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("/dev/zero: npy: magic must be"), std::string::npos) << r.out;
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << r.out;
  EXPECT_LT(r.seconds, 5.0) << r.out;  // about 10 ms alone; slack for a loaded machine

  r = run_measured(exec, {"evaluate", "/dev/zero"});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("/dev/zero: safetensors:"), std::string::npos) << r.out;
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << r.out;

  // A pipe: a valid file followed by endless data is read up to its announced end, plus one byte. (The shell
  // waits for the CLI here, and wait4 counts the children a process has waited for.)
  r = run_measured(limit + " (cat " + shell_quote(path("x.npy")) + "; cat /dev/zero) | exec",
                   {"apply", "Dense(2)", "--input", "/dev/stdin", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("npy: data must be 32 bytes (shape (2, 4), f32), got 33"), std::string::npos) << r.out;
  EXPECT_LT(r.max_rss_kib, 100 * 1024) << r.out;
  // The same pipe without the endless tail works.
  r = run_measured("cat " + shell_quote(path("x.npy")) + " | exec",
                   {"apply", "Dense(2)", "--input", "/dev/stdin", "--output", path("y.npy")});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_npy(path("y.npy")).shape(), Shape({2, 2}));
}

TEST_F(CliFiles, OutOfMemoryHasItsOwnExitStatus) {
  if (kSanitizedBuild) GTEST_SKIP() << "memory limits and measurements need the ordinary build (see cli_run.hpp)";
  // A 1.6 GB Dense kernel under a 1.5 GB address-space limit (below max_tensor_bytes, the physical memory).
  write_npy(path("wide.npy"), Tensor(Shape{1, 20000}));
  Measured r = run_measured("ulimit -v 1500000; exec", {"apply", "Dense(20000)", "--input", path("wide.npy"), "--output",
                                                   path("y.npy")});
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_NE(r.out.find("locnet: error: out of memory: Tensor: cannot allocate 1600000000 bytes"), std::string::npos)
      << r.out;
}

TEST_F(CliFiles, WrongFormatsAreNamed) {
  CliRun r = apply_to(path("o.csv"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("o.csv: the name of a file written as npy must end in .npy"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("o.csv")));

  r = run({"apply", "Dense(3)", "--input", path("x.npy"), "--output", path("y.npy"), "--weights", path("x.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find(path("x.npy") + ": safetensors: not a safetensors file (it starts with the npy magic)"),
            std::string::npos)
      << r.out;
}
