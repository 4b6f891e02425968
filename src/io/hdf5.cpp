#include "locnet/io/hdf5.hpp"

#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"

namespace locnet {
namespace {

constexpr hsize_t kMaxLinks = hsize_t(1) << 20;  // members of one group

// Closes an HDF5 identifier at scope exit.
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  operator hid_t() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void silence_hdf5() {
  static const bool silenced = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)silenced;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { raise<FormatError>("{}: {}", path, what); }

// The element count of a dataspace of rank <= kMaxHdf5Rank, with its dims.
std::vector<hsize_t> extent(hid_t space, const std::string& path, const std::string& what) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > kMaxHdf5Rank)
    fail(path, fmt::format("{} must have rank 0 to {}, got {}", what, kMaxHdf5Rank, rank));
  std::vector<hsize_t> dims(size_t(rank), 0);
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) != rank)
    fail(path, what + ": unreadable dataspace");
  return dims;
}

// The product of dims, or FormatError once it exceeds limit.
uint64_t bounded_count(const std::vector<hsize_t>& dims, uint64_t limit, const std::string& path,
                       const std::string& what) {
  uint64_t n = 1;
  for (hsize_t d : dims) {
    if (d != 0 && n > limit / d) fail(path, fmt::format("{} has more than {} elements", what, limit));
    n *= d;
  }
  return n;
}

// HDF5 1.10.8 trusts a variable-length string's stored length and its global heap (H5T__conv_vlen, H5HG_read):
// corrupt ones overflow a buffer, crash or hang inside H5Aread, and nothing the public API offers checks them
// first. So the read runs in a child process, which sends the strings back through a pipe as (u64 length, bytes)
// records; a child that dies, runs past kVlenReadCpuSeconds of CPU time or kVlenReadSeconds, maps more than
// 8 * kMaxTextFileBytes of new memory or sends more than kMaxTextFileBytes fails the read.
constexpr unsigned kVlenReadCpuSeconds = 2;  // a corrupt global heap can make HDF5 loop forever
constexpr unsigned kVlenReadSeconds = 8;     // wall clock, a backstop

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

// A corrupt length makes HDF5 allocate and convert gigabytes: the child may map little more than it has (Linux
// counts private writable mappings, VmData, against RLIMIT_DATA), so such a read fails at once; a corrupt heap
// can make it loop, which its CPU time limit ends.
void limit_child() {
  const rlimit cpu{kVlenReadCpuSeconds, kVlenReadCpuSeconds};
  ::setrlimit(RLIMIT_CPU, &cpu);  // SIGXCPU ends it
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmData:")) {
      const rlim_t limit = rlim_t(std::strtoull(line.c_str() + 7, nullptr, 10)) * 1024 + 8 * kMaxTextFileBytes;
      const rlimit r{limit, limit};
      ::setrlimit(RLIMIT_DATA, &r);
    }
}

// A child's limits: memory and CPU time (limit_child), a wall-clock alarm, default signal actions.
void start_child() {
  limit_child();
  std::signal(SIGALRM, SIG_DFL);  // not inherited handlers (libFuzzer's), which would let the child run on
  std::signal(SIGXCPU, SIG_DFL);
  sigset_t limits;
  sigemptyset(&limits);
  sigaddset(&limits, SIGALRM);
  sigaddset(&limits, SIGXCPU);
  ::sigprocmask(SIG_UNBLOCK, &limits, nullptr);
  ::alarm(kVlenReadSeconds);
}

[[noreturn]] void vlen_child(int fd, hid_t attr, hid_t mem, uint64_t count) {
  start_child();
  std::vector<char*> ptrs(count, nullptr);
  if (H5Aread(attr, mem, ptrs.data()) < 0) ::_exit(2);
  uint64_t total = 0;
  for (char* p : ptrs) {
    const uint64_t n = p ? std::strlen(p) : 0;
    total += n;
    if (total > kMaxTextFileBytes || !write_all(fd, &n, sizeof n) || !write_all(fd, p, n)) ::_exit(3);
  }
  ::_exit(0);  // the strings need not be freed: the process ends

}

// The strings, or nullopt when the child failed (the caller names the attribute).
std::optional<std::vector<std::string>> read_vlen_strings(hid_t attr, hid_t mem, uint64_t count) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    vlen_child(fds[1], attr, mem, count);
  }
  ::close(fds[1]);
  std::string bytes;
  char buf[1 << 16];
  const uint64_t limit = kMaxTextFileBytes + count * sizeof(uint64_t);
  for (ssize_t r; pid > 0 && (r = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || bytes.size() + size_t(r) > limit) {
      ::kill(pid, SIGKILL);
      break;
    }
    bytes.append(buf, size_t(r));
  }
  ::close(fds[0]);
  int status = 0;
  if (pid < 0) return std::nullopt;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  std::vector<std::string> out;
  for (size_t at = 0; out.size() < count;) {
    uint64_t n = 0;
    if (bytes.size() - at < sizeof n) return std::nullopt;
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    if (n > bytes.size() - at) return std::nullopt;
    out.emplace_back(bytes.data() + at, n);
    at += n;
  }
  return out;
}

// Whether H5Aexists_by_name(object, name) returns in a child process within its limits. HDF5 1.10.8 decodes an
// object's attribute messages with strdup on the stored name (H5O_attr_decode), so a name without its terminating
// zero reads past the message's buffer; only a separate process can look first.
bool attribute_lookup_survives(hid_t file, const std::string& object, const std::string& name) {
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = ::fork();
  if (pid == 0) {
    start_child();
    ::_exit(H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) < 0 ? 2 : 0);
  }
  if (pid < 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path) : path_(path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "cannot open: not a regular file or does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file");
  id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id_ < 0) fail(path, "cannot open the HDF5 file (corrupt or truncated)");
}

Hdf5File::Hdf5File(std::span<const std::byte> image, const std::string& name) : path_(name) {
  silence_hdf5();
  constexpr std::string_view kSignature("\x89HDF\r\n\x1a\n", 8);
  if (image.size() < kSignature.size() ||
      std::string_view(reinterpret_cast<const char*>(image.data()), kSignature.size()) != kSignature)
    fail(name, "not an HDF5 file");
  static uint64_t opened = 0;  // the core driver tells open images apart by name
  Id access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!access.ok() || H5Pset_fapl_core(access, size_t(1) << 16, false) < 0 ||
      H5Pset_file_image(access, const_cast<std::byte*>(image.data()), image.size()) < 0)
    fail(name, "cannot open the HDF5 image in memory");
  const std::string id = fmt::format("{}#image{}", name, ++opened);
  id_ = H5Fopen(id.c_str(), H5F_ACC_RDONLY, access);
  if (id_ < 0) fail(name, "cannot open the HDF5 file (not HDF5, corrupt or truncated)");
}

Hdf5File::~Hdf5File() {
  if (id_ >= 0) H5Fclose(id_);
}

bool Hdf5File::has_object(const std::string& object) const {
  if (object == "/") return true;
  // Every link on the way must exist before H5Oexists_by_name may look at the last one.
  for (size_t at = object.find('/', 1);; at = object.find('/', at + 1)) {
    const std::string prefix = object.substr(0, at);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0 || H5Oexists_by_name(id_, prefix.c_str(), H5P_DEFAULT) <= 0)
      return false;
    if (at == std::string::npos) return true;
  }
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& name) const {
  if (!has_object(object)) return false;
  if (checked_attributes_.insert(object + '\0' + name).second &&
      !attribute_lookup_survives(id_, object, name))
    fail(path_, fmt::format("the attributes of {} are unreadable (a corrupt attribute message)", object));
  return H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> Hdf5File::string_array_attribute(const std::string& object, const std::string& name) const {
  const std::string what = fmt::format("attribute '{}' of {}", name, object);
  if (!has_attribute(object, name)) fail(path_, what + " is missing");
  Id attr(H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Id type(attr.ok() ? H5Aget_type(attr) : -1, H5Tclose);
  Id space(attr.ok() ? H5Aget_space(attr) : -1, H5Sclose);
  if (!type.ok() || !space.ok()) fail(path_, what + " is unreadable");
  const std::vector<hsize_t> dims = extent(space, path_, what);
  if (dims.size() > 1) fail(path_, fmt::format("{} must be a scalar or 1-D, got rank {}", what, dims.size()));
  const uint64_t count = bounded_count(dims, kMaxTextFileBytes, path_, what);
  if (H5Tget_class(type) != H5T_STRING) {
    if (count == 0) return {};
    fail(path_, what + " must be a string, got another type");
  }
  std::vector<std::string> out;
  out.reserve(count);
  Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(mem, H5Tget_cset(type));  // HDF5 converts neither way between ASCII and UTF-8
  if (H5Tis_variable_str(type) > 0) {
    H5Tset_size(mem, H5T_VARIABLE);
    std::optional<std::vector<std::string>> strings = read_vlen_strings(attr, mem, count);
    if (!strings)
      fail(path_, fmt::format("{} is unreadable (a corrupt variable-length string, or longer than {} bytes)", what,
                              kMaxTextFileBytes));
    return std::move(*strings);
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || size > kMaxTextFileBytes || count * size > kMaxTextFileBytes)
    fail(path_, fmt::format("{} is longer than {} bytes", what, kMaxTextFileBytes));
  H5Tset_size(mem, size);
  H5Tset_strpad(mem, H5T_STR_NULLPAD);
  std::vector<char> buf(count * size, '\0');
  if (H5Aread(attr, mem, buf.data()) < 0) fail(path_, what + " is unreadable");
  for (uint64_t i = 0; i < count; ++i) {
    const char* s = buf.data() + i * size;
    out.emplace_back(s, std::find(s, s + size, '\0'));
  }
  return out;
}

std::string Hdf5File::string_attribute(const std::string& object, const std::string& name) const {
  std::vector<std::string> v = string_array_attribute(object, name);
  if (v.size() != 1)
    fail(path_, fmt::format("attribute '{}' of {} must be one string, got {} values", name, object, v.size()));
  return v[0];
}

std::vector<std::string> Hdf5File::groups(const std::string& object) const {
  if (!has_object(object)) fail(path_, object + " is missing");
  Id group(H5Gopen2(id_, object.c_str(), H5P_DEFAULT), H5Gclose);
  H5G_info_t info;
  if (!group.ok() || H5Gget_info(group, &info) < 0) fail(path_, object + " is not a group");
  if (info.nlinks > kMaxLinks) fail(path_, fmt::format("{} has more than {} members", object, kMaxLinks));
  std::vector<std::string> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0 || n > 4096) fail(path_, fmt::format("{}: member {} has an unreadable name", object, i));
    std::string name(size_t(n) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(size_t(n));
    if (H5Oexists_by_name(group, name.c_str(), H5P_DEFAULT) <= 0) continue;  // a dangling soft link
    Id child(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
    if (child.ok() && H5Iget_type(child) == H5I_GROUP) out.push_back(name);
  }
  return out;
}

// HDF5 1.10.8 copies a compact or contiguous dataset's bytes without checking the size stored with them against
// the dataspace (a corrupt compact size of 0 made it read through a null pointer): a dataset whose storage does not
// hold exactly `bytes`, or lies outside the file, is refused before H5Dread. Chunked datasets are HDF5's to check.
void Hdf5File::check_storage(int64_t set, uint64_t bytes, const std::string& what) const {
  Id create(H5Dget_create_plist(set), H5Pclose);
  const H5D_layout_t layout = create.ok() ? H5Pget_layout(create) : H5D_LAYOUT_ERROR;
  if (layout == H5D_CHUNKED) return;
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS) fail(path_, what + " has an unreadable layout");
  const hsize_t stored = H5Dget_storage_size(set);
  if (stored != bytes)
    fail(path_, fmt::format("{} stores {} bytes, its shape and type need {}", what, stored, bytes));
  if (layout == H5D_CONTIGUOUS) {
    const haddr_t at = H5Dget_offset(set);
    hsize_t file_size = 0;
    if (H5Fget_filesize(id_, &file_size) < 0 || at == HADDR_UNDEF || at > file_size || bytes > file_size - at)
      fail(path_, what + " lies outside the file");
  }
}

Tensor Hdf5File::dataset(const std::string& object) const {
  const std::string what = "dataset " + object;
  if (!has_object(object)) fail(path_, what + " is missing");
  Id set(H5Dopen2(id_, object.c_str(), H5P_DEFAULT), H5Dclose);
  Id type(set.ok() ? H5Dget_type(set) : -1, H5Tclose);
  Id space(set.ok() ? H5Dget_space(set) : -1, H5Sclose);
  if (!type.ok() || !space.ok()) fail(path_, what + " is not a readable dataset");
  const size_t size = H5Tget_size(type);
  if (H5Tget_class(type) != H5T_FLOAT || (size != 4 && size != 8))
    fail(path_, fmt::format("{} must be float32 or float64, got another type (class {}, {} bytes)", what,
                            int(H5Tget_class(type)), size));
  const std::vector<hsize_t> dims = extent(space, path_, what);
  Shape shape(std::vector<int64_t>(dims.begin(), dims.end()));
  const uint64_t bytes = bounded_count(dims, max_tensor_bytes() / size, path_, what) * size;
  if (bytes > 0) check_storage(set, bytes, what);
  Tensor t = Tensor::empty(shape, size == 4 ? DType::f32 : DType::f64);
  if (t.numel() > 0 &&
      H5Dread(set, size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0)
    fail(path_, what + " is unreadable (corrupt, truncated or compressed with an unavailable filter)");
  return t;
}

}  // namespace locnet
