#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "expect_error.hpp"
#include "locnet/core/error.hpp"
#include "locnet/io/file.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string as_string(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_file_{}_{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  // Everything in the directory except `keep`: temp files left behind show up here.
  std::vector<std::string> others(const std::string& keep) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename() != keep) out.push_back(e.path().filename().string());
    return out;
  }
  fs::path dir_;
};

}  // namespace

TEST_F(FileTest, WriteThenReadRoundTrips) {
  std::string path = (dir_ / "a.bin").string();
  std::string content("binary\0data\xff\n", 13);
  write_file_atomic(path, as_bytes(content));
  EXPECT_EQ(slurp(path), content);
  EXPECT_EQ(as_string(read_file(path)), content);

  std::string big(3 << 20, 'x');  // larger than any internal buffer
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = char(i);
  write_file_atomic(path, as_bytes(big));  // replaces the old file
  EXPECT_EQ(as_string(read_file(path)), big);

  write_file_atomic(path, {});
  EXPECT_TRUE(read_file(path).empty());
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_TRUE(others("a.bin").empty());
}

TEST_F(FileTest, ReadsNonRegularFiles) {
  EXPECT_TRUE(read_file("/dev/null").empty());
  EXPECT_FALSE(read_file("/proc/self/status").empty());  // st_size is 0 for proc files
}

TEST_F(FileTest, ReadErrorsNamePathAndReason) {
  std::string missing = (dir_ / "missing.bin").string();
  EXPECT_THROW_MSG(read_file(missing), FormatError, missing + ": cannot open for reading: No such file or directory");
  EXPECT_THROW_MSG(read_file(dir_.string()), FormatError, dir_.string() + ": cannot read: Is a directory");
}

TEST_F(FileTest, WriteIntoMissingDirectoryFails) {
  std::string path = (dir_ / "no" / "a.bin").string();
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes("x")), FormatError,
                   path + ": cannot create temporary file " + path + ".tmp.");
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes("x")), FormatError, "No such file or directory");
  EXPECT_TRUE(others("").empty());
}

TEST_F(FileTest, WriteOverDirectoryFailsAndCleansUp) {
  fs::create_directory(dir_ / "d");
  std::ofstream(dir_ / "d" / "inner") << "keep";
  std::string path = (dir_ / "d").string();
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes("new")), FormatError, path + ": rename failed: Is a directory");
  EXPECT_TRUE(fs::is_directory(dir_ / "d"));
  EXPECT_EQ(slurp(dir_ / "d" / "inner"), "keep");
  EXPECT_TRUE(others("d").empty());
}

TEST_F(FileTest, FailedWriteKeepsOldFileAndRemovesTemp) {
  // A file size limit makes the write itself fail (EFBIG), which works even when the tests run as root.
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes("old contents"));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string big(1 << 20, 'n');
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes(big)), FormatError, path + ": write failed: File too large");
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(slurp(path), "old contents");
  EXPECT_TRUE(others("a.bin").empty());
}

TEST_F(FileTest, BlockedTempNameKeepsOldFileAndForeignEntry) {
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes("old"));
  fs::path blocker = fmt::format("{}.tmp.{}", path, ::getpid());
  fs::create_directory(blocker);  // not ours: a failed write must not remove it
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes("new")), FormatError, path + ": cannot create temporary file");
  EXPECT_EQ(slurp(path), "old");
  EXPECT_TRUE(fs::is_directory(blocker));
}

TEST_F(FileTest, UnwritableDirectoryKeepsOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes("old"));
  fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::remove);
  EXPECT_THROW_MSG(write_file_atomic(path, as_bytes("new")), FormatError, "Permission denied");
  fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(slurp(path), "old");
  EXPECT_TRUE(others("a.bin").empty());
}
