#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "expect_error.hpp"
#include "io/write_call.hpp"
#include "io/write_idx.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"

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
  // A writable file in a directory the writer may not change: no temporary file, so an error and the old file.
  // Root ignores directory permissions, so the write runs in a child that drops to user "nobody" (65534).
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes("old"));
  fs::permissions(path, fs::perms::all);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  const bool root = ::geteuid() == 0;
  if (!root) fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::remove);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    try {
      write_file_atomic(path, as_bytes("new"));
      ::_exit(1);
    } catch (const FormatError& e) {
      ::_exit(std::string(e.what()).find(path + ": cannot create temporary file") == 0 &&
                      std::string(e.what()).find("Permission denied (EACCES)") != std::string::npos
                  ? 0
                  : 2);
    }
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 10) GTEST_SKIP() << "cannot drop to user nobody";
  EXPECT_EQ(WEXITSTATUS(st), 0) << "1: the write succeeded, 2: another message";
  fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(slurp(path), "old");
  EXPECT_TRUE(others("a.bin").empty());
}

TEST_F(FileTest, WriteThroughSymlinkReplacesTargetAndKeepsLink) {
  std::string target = (dir_ / "target.bin").string(), link = (dir_ / "link.bin").string();
  write_file_atomic(target, as_bytes("old"));
  fs::create_symlink("target.bin", link);  // relative, as `ln -s` makes them
  write_file_atomic(link, as_bytes("new"));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "target.bin");
  EXPECT_EQ(slurp(target), "new");

  // A chain of links, and a link whose target does not exist yet: the file is made where the chain ends.
  fs::create_symlink("link.bin", dir_ / "link2.bin");
  write_file_atomic((dir_ / "link2.bin").string(), as_bytes("newer"));
  EXPECT_EQ(slurp(target), "newer");
  EXPECT_TRUE(fs::is_symlink(dir_ / "link2.bin"));
  fs::create_symlink("made.bin", dir_ / "dangling.bin");
  write_file_atomic((dir_ / "dangling.bin").string(), as_bytes("made"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling.bin"));
  EXPECT_EQ(slurp(dir_ / "made.bin"), "made");

  fs::create_symlink("loop.bin", dir_ / "loop.bin");
  EXPECT_THROW_MSG(write_file_atomic((dir_ / "loop.bin").string(), as_bytes("x")), FormatError, "ELOOP");
  EXPECT_EQ(others("").size(), 6u);  // target, link, link2, dangling, made, loop: no temporary file left
}

TEST_F(FileTest, WriteToFifoStreamsIntoIt) {
  std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string content(1 << 20, 'f');  // more than a pipe buffer: the writer waits for the reader
  for (size_t i = 0; i < content.size(); i += 777) content[i] = char(i);
  std::string received;
  std::thread reader([&] { received = slurp(fifo); });
  write_file_atomic(fifo, as_bytes(content));
  reader.join();
  EXPECT_EQ(received, content);
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(others("fifo").empty());

  // An anonymous pipe through /proc/self/fd (what /dev/stdout is when a shell pipes the output on): its link
  // names "pipe:[...]", no file to rename over.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  write_file_atomic(fmt::format("/proc/self/fd/{}", fds[1]), as_bytes("through a pipe"));
  ::close(fds[1]);
  char buf[64];
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buf, size_t(std::max<ssize_t>(n, 0))), "through a pipe");
}

TEST_F(FileTest, FullDeviceReportsEnospcAndStaysADevice) {
  // A node of its own for /dev/full (char 1:7), so that a writer that renames over it cannot replace the real one.
  std::string full = (dir_ / "full").string();
  if (::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)) != 0) GTEST_SKIP() << "mknod: " << std::strerror(errno);
  EXPECT_THROW_MSG(write_file_atomic(full, as_bytes("x")), FormatError,
                   full + ": write failed: No space left on device (ENOSPC)");
  EXPECT_TRUE(fs::is_character_file(full));
  write_file_atomic("/dev/null", as_bytes("discarded"));  // devices that take the bytes: no error, no rename
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_TRUE(others("full").empty());
}

namespace {
// write(2) stand-ins for the detail::write_call seam.
size_t g_budget = 0;  // bytes the "disk" takes before failing with EIO
ssize_t write_three_bytes(int fd, const void* p, size_t n) { return ::write(fd, p, std::min<size_t>(n, 3)); }
ssize_t write_then_eio(int fd, const void* p, size_t n) {
  if (g_budget == 0) {
    errno = EIO;
    return -1;
  }
  ssize_t r = ::write(fd, p, std::min(n, g_budget));
  if (r > 0) g_budget -= size_t(r);
  return r;
}
struct WriteCallScope {
  explicit WriteCallScope(ssize_t (*f)(int, const void*, size_t)) { detail::write_call = f; }
  ~WriteCallScope() { detail::write_call = ::write; }
};
}  // namespace

TEST_F(FileTest, ShortWritesAreContinuedAndFailuresKeepTheOldFile) {
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes("old contents"));
  std::string content(10000, 'n');
  for (size_t i = 0; i < content.size(); i += 7) content[i] = char(i);
  {
    WriteCallScope three(write_three_bytes);  // every write(2) takes at most 3 bytes
    write_file_atomic(path, as_bytes(content));
  }
  EXPECT_EQ(slurp(path), content);

  write_file_atomic(path, as_bytes("old contents"));
  {
    WriteCallScope eio(write_then_eio);  // a short write of 4000 bytes, then EIO
    g_budget = 4000;
    EXPECT_THROW_MSG(write_file_atomic(path, as_bytes(content)), FormatError,
                     path + ": write failed: Input/output error (EIO)");
  }
  EXPECT_EQ(slurp(path), "old contents");
  EXPECT_TRUE(others("a.bin").empty());
}

TEST_F(FileTest, ReadStopsWhereTheLengthFunctionSays) {
  // /dev/zero never ends: the length function's answer bounds the read (one byte past it shows the excess).
  EXPECT_EQ(read_file("/dev/zero", [](std::span<const std::byte>) { return uint64_t(100); }).size(), 101u);
  EXPECT_THROW_MSG(read_file("/dev/zero", uint64_t(1000)), FormatError,
                   "/dev/zero: file must be at most 1000 bytes, got more");
  // The function sees the bytes so far and may ask for more once it has read a "header".
  std::string path = (dir_ / "a.bin").string();
  write_file_atomic(path, as_bytes(std::string("\x05") + "hello" + "trailing"));
  std::vector<uint64_t> seen;
  auto bytes = read_file(path, [&](std::span<const std::byte> b) {
    seen.push_back(b.size());
    return b.empty() ? uint64_t(1) : 1 + uint64_t(b[0]);
  });
  EXPECT_EQ(as_string(bytes), "\x05hellot");
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 2, 7}));
  // Its FormatError gets the path in front.
  EXPECT_THROW_MSG(read_file(path, [](std::span<const std::byte>) -> uint64_t { throw FormatError("npy: bad"); }),
                   FormatError, path + ": npy: bad");
}

TEST_F(FileTest, EndlessInputsEndAtOnce) {
  // Each reader stops at its header (all zeros: a wrong magic, an empty JSON header, element type 0).
  EXPECT_THROW_MSG(read_npy("/dev/zero"), FormatError, "/dev/zero: npy: magic must be");
  EXPECT_THROW_MSG(read_safetensors("/dev/zero"), FormatError, "/dev/zero: safetensors: header must be valid JSON");
  EXPECT_THROW_MSG(read_idx("/dev/zero"), FormatError, "/dev/zero: IDX element type must be");

  // A stream (FIFO) with a valid file followed by endless data: read up to the announced end and one byte more.
  std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::byte> npy = serialize_npy(Tensor(Shape{2, 3}));
  std::thread writer([&] {
    std::FILE* f = std::fopen(fifo.c_str(), "wb");
    std::fwrite(npy.data(), 1, npy.size(), f);
    std::string more(1 << 16, 'x');
    while (std::fwrite(more.data(), 1, more.size(), f) == more.size()) {}  // until the reader closes
    std::fclose(f);
  });
  std::signal(SIGPIPE, SIG_IGN);
  EXPECT_THROW_MSG(read_npy(fifo), FormatError, "npy: data must be 24 bytes (shape (2, 3), f32), got 25");
  writer.join();

  // A header announcing more than max_tensor_bytes stops before the data is read (ConfigError, as for any tensor).
  Tensor big(Shape{1000});
  std::string path = (dir_ / "big.npy").string();
  write_npy(path, big);
  set_max_tensor_bytes(1000);
  EXPECT_THROW_MSG(read_npy(path), ConfigError, path + ": npy: data of shape (1000,) f32 must be at most max_tensor_bytes");
  set_max_tensor_bytes(0);
}

TEST_F(FileTest, ReadersNameTheFormatTheyWereGiven) {
  TensorFile st;
  st.tensors.emplace_back("w", Tensor(Shape{2}));
  const std::vector<std::byte> npy = serialize_npy(Tensor(Shape{2})), safetensors = serialize_safetensors(st);
  EXPECT_EQ(known_format(npy), "npy");
  EXPECT_EQ(known_format(safetensors), "safetensors");
  EXPECT_THROW_MSG(parse_safetensors(npy), FormatError, "safetensors: not a safetensors file (it starts with the npy magic)");
  EXPECT_THROW_MSG(parse_npy(safetensors), FormatError, "npy: not an npy file (it starts with the safetensors magic)");
  EXPECT_THROW_MSG(parse_idx(npy), FormatError, "IDX: not an IDX file (it starts with the npy magic)");
  const std::string hdf5 = "\x89HDF\r\n\x1a\n and so on", zip = "PK\x03\x04 and so on";
  EXPECT_THROW_MSG(parse_safetensors(as_bytes(hdf5)), FormatError, "(it starts with the HDF5 magic)");
  EXPECT_THROW_MSG(parse_npy(as_bytes(zip)), FormatError, "(it starts with the zip magic)");
  write_idx((dir_ / "a.idx").string(), IdxArray{.type = 0x08, .dims = {2}, .data = {1, 2}});
  const std::vector<std::byte> idx = read_file((dir_ / "a.idx").string());
  EXPECT_EQ(known_format(idx), "IDX");
  EXPECT_THROW_MSG(parse_npy(idx), FormatError, "(it starts with the IDX magic)");
  EXPECT_EQ(known_format(as_bytes("plain text")), "");
}

TEST_F(FileTest, WritersRefuseAnotherFormatsExtension) {
  std::string csv = (dir_ / "o.csv").string();
  EXPECT_THROW_MSG(write_npy(csv, Tensor(Shape{2})), ConfigError,
                   csv + ": the name of a file written as npy must end in .npy or in no other format's extension, "
                         "got .csv (CSV)");
  EXPECT_THROW_MSG(write_safetensors((dir_ / "w.npy").string(), TensorFile{}), ConfigError, "got .npy (npy)");
  EXPECT_TRUE(others("").empty());
  for (const char* ok : {"y.npy", "Y.NPY", "y", "y.bin", "y.out"}) write_npy((dir_ / ok).string(), Tensor(Shape{2}));
  write_safetensors((dir_ / "w.safetensors").string(), TensorFile{});
  EXPECT_EQ(others("").size(), 6u);
}
