#include "locnet/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "locnet/core/error.hpp"

namespace locnet {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

std::vector<std::byte> read_file(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) raise<FormatError>("{}: cannot open for reading: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) raise<FormatError>("{}: cannot stat: {}", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) raise<FormatError>("{}: cannot read: {}", path, std::strerror(EISDIR));

  // Regular files are read in one go; the loop covers pipes and files that grow while being read.
  std::vector<std::byte> bytes(S_ISREG(st.st_mode) ? size_t(st.st_size) : 0);
  size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f.get());
  bytes.resize(got);
  std::byte chunk[65536];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, f.get())) bytes.insert(bytes.end(), chunk, chunk + n);
  if (std::ferror(f.get())) raise<FormatError>("{}: read failed: {}", path, std::strerror(errno));
  return bytes;
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) raise<FormatError>("{}: cannot create temporary file {}: {}", path, tmp, std::strerror(errno));

  auto fail = [&](const char* what, int err) {
    if (f) std::fclose(f);
    ::unlink(tmp.c_str());
    raise<FormatError>("{}: {} failed: {}", path, what, std::strerror(err));
  };
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) fail("write", errno);
  if (std::fflush(f) != 0) fail("write", errno);
  if (::fsync(::fileno(f)) != 0) fail("fsync", errno);
  int rc = std::fclose(f);
  f = nullptr;
  if (rc != 0) fail("close", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);

  // Make the rename itself durable; a failure here leaves a complete file in place, so it is not an error.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace locnet
