#include "locnet/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "io/write_call.hpp"

namespace locnet {

ssize_t (*detail::write_call)(int, const void*, size_t) = ::write;

namespace {

// "No space left on device (ENOSPC)": the reason for people, the name for searching.
std::string reason(int err) {
  const char* name = ::strerrorname_np(err);
  return name ? fmt::format("{} ({})", std::strerror(err), name) : std::string(std::strerror(err));
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

constexpr size_t kMaxIo = size_t(1) << 30;  // per read/write call

// Reads until n bytes or the end of the file; returns how many came.
size_t read_fully(int fd, std::byte* p, size_t n, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, std::min(n - got, kMaxIo));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) raise<FormatError>("{}: read failed: {}", path, reason(errno));
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}

// Writes everything, going on after short writes; returns 0 or the errno of the failure.
int write_fully(int fd, std::span<const std::byte> bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = detail::write_call(fd, bytes.data() + done, std::min(bytes.size() - done, kMaxIo));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // no progress and no reason: do not spin
    done += size_t(n);
  }
  return 0;
}

// The file a chain of symbolic links ends at (path itself when it is no link), so that writing replaces the
// target and keeps the link.
std::string follow_links(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    fs::path target = fs::read_symlink(p, ec);
    if (ec || hops == 40)
      raise<FormatError>("{}: cannot follow the symbolic link: {}", path, reason(ec ? ec.value() : ELOOP));
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
}

// Special files (FIFO, device, socket) are written in place: there is nothing to rename over, and a rename
// would replace the node with a regular file. Nothing to fsync either (it fails with EINVAL on most of them).
void write_in_place(const std::string& path, std::span<const std::byte> bytes) {
  Fd f{::open(path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (f.fd < 0) raise<FormatError>("{}: cannot open for writing: {}", path, reason(errno));
  if (int err = write_fully(f.fd, bytes)) raise<FormatError>("{}: write failed: {}", path, reason(err));
  int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) raise<FormatError>("{}: close failed: {}", path, reason(errno));
}

}  // namespace

std::vector<std::byte> read_file(const std::string& path, const AnnouncedLength& length) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) raise<FormatError>("{}: cannot open for reading: {}", path, reason(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) raise<FormatError>("{}: cannot stat: {}", path, reason(errno));
  if (S_ISDIR(st.st_mode)) raise<FormatError>("{}: cannot read: {}", path, reason(EISDIR));

  std::vector<std::byte> bytes;
  for (;;) {
    uint64_t want = 0;
    try {
      want = length(bytes);
    } catch (const FormatError& e) {  // the format's own check, e.g. "npy: magic must be ..."
      raise<FormatError>("{}: {}", path, e.what());
    } catch (const ConfigError& e) {  // a size over max_tensor_bytes(), as for any tensor
      raise<ConfigError>("{}: {}", path, e.what());
    }
    if (bytes.size() > want) break;  // one byte past the announced end: the parser reports the excess
    // A regular file's size is known; anything else grows geometrically, so a stream that announces much and
    // delivers little costs about what it delivers.
    uint64_t target = want < UINT64_MAX ? want + 1 : want;
    if (S_ISREG(st.st_mode))
      target = std::min<uint64_t>(target, std::max<uint64_t>(uint64_t(st.st_size) + 1, bytes.size() + 1));
    else
      target = std::min<uint64_t>(target, std::max<uint64_t>(2 * bytes.size(), 1 << 16));
    const size_t have = bytes.size();
    bytes.resize(size_t(target));
    const size_t got = read_fully(f.fd, bytes.data() + have, bytes.size() - have, path);
    bytes.resize(have + got);
    if (have + got < target) break;  // end of file
  }
  return bytes;
}

std::vector<std::byte> read_file(const std::string& path, uint64_t max_bytes) {
  std::vector<std::byte> bytes = read_file(path, [max_bytes](std::span<const std::byte>) { return max_bytes; });
  if (bytes.size() > max_bytes)
    raise<FormatError>("{}: file must be at most {} bytes, got more", path, max_bytes);
  return bytes;
}

std::vector<std::byte> read_file(const std::string& path) { return read_file(path, max_tensor_bytes()); }

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  // stat and open resolve links as the kernel does, including /dev/stdout -> /proc/self/fd/1 -> "pipe:[...]",
  // which names no file a rename could replace.
  struct stat old {};
  const bool exists = ::stat(path.c_str(), &old) == 0;
  if (exists && !S_ISREG(old.st_mode) && !S_ISDIR(old.st_mode)) return write_in_place(path, bytes);
  const std::string target = follow_links(path);

  const std::string tmp = fmt::format("{}.tmp.{}", target, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) raise<FormatError>("{}: cannot create temporary file {}: {}", path, tmp, reason(errno));
  if (exists && S_ISREG(old.st_mode)) (void)::fchmod(fd, old.st_mode & 07777);

  auto fail = [&](const char* what, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    raise<FormatError>("{}: {} failed: {}", path, what, reason(err));
  };
  if (int err = write_fully(fd, bytes)) fail("write", err);
  if (::fsync(fd) != 0) fail("fsync", errno);
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) fail("close", errno);
  if (std::rename(tmp.c_str(), target.c_str()) != 0) fail("rename", errno);

  // Make the rename itself durable; a failure here leaves a complete file in place, so it is not an error.
  std::filesystem::path dir = std::filesystem::path(target).parent_path();
  Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);
}

std::string_view known_format(std::span<const std::byte> head) {
  auto starts = [&](std::string_view magic) {
    return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
  };
  auto u8 = [&](size_t i) { return unsigned(head[i]); };
  if (starts("\x93NUMPY")) return "npy";
  if (starts("\x89HDF\r\n\x1a\n")) return "HDF5";
  if (starts("\x89PNG\r\n\x1a\n")) return "PNG";
  if (starts("\xff\xd8\xff")) return "JPEG";
  if (starts("PK\x03\x04")) return "zip";
  if (starts("\x1f\x8b")) return "gzip";
  if (head.size() >= 9 && u8(8) == '{') {  // 8-byte little-endian header length, then a JSON object
    uint64_t n = 0;
    for (size_t i = 0; i < 8; ++i) n |= uint64_t(u8(i)) << (8 * i);
    if (n >= 2 && n <= 100'000'000) return "safetensors";
  }
  if (head.size() >= 4 && u8(0) == 0 && u8(1) == 0 && u8(3) >= 1) {  // 0, 0, element type, rank
    const unsigned t = u8(2);
    if (t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E) return "IDX";
  }
  return "";
}

void check_extension(const std::string& path, std::string_view format, std::string_view ext) {
  static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
      {".npy", "npy"},   {".npz", "npz"},       {".safetensors", "safetensors"}, {".csv", "CSV"},
      {".svg", "SVG"},   {".json", "JSON"},     {".h5", "HDF5"},                 {".keras", "Keras"},
      {".onnx", "ONNX"}, {".pt", "PyTorch"},    {".pth", "PyTorch"},             {".png", "PNG"},
      {".jpg", "JPEG"},  {".gz", "gzip"},       {".txt", "text"}};
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (e == ext) return;
  for (const auto& [known, name] : kKnown)
    if (e == known)
      raise<ConfigError>("{}: the name of a file written as {} must end in {} or in no other format's extension, got "
                         "{} ({})",
                         path, format, ext, e, name);
}

}  // namespace locnet
