#include "locnet/io/zip.hpp"

#include <zip.h>

#include <memory>

#include "locnet/core/error.hpp"

namespace locnet {
namespace {

zip_t* as_zip(void* p) { return static_cast<zip_t*>(p); }

}  // namespace

ZipArchive::ZipArchive(std::span<const std::byte> bytes, std::string name) : name_(std::move(name)) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source) {
    zip_ = zip_open_from_source(source, ZIP_RDONLY, &error);
    if (!zip_) zip_source_free(source);  // zip_open_from_source took it only on success
  }
  const std::string why = zip_error_strerror(&error);
  zip_error_fini(&error);
  if (!zip_) raise<FormatError>("{}: not a readable zip archive ({})", name_, why);
}

ZipArchive::~ZipArchive() {
  if (zip_) zip_discard(as_zip(zip_));
}

bool ZipArchive::has(const std::string& member) const {
  return zip_name_locate(as_zip(zip_), member.c_str(), ZIP_FL_ENC_RAW) >= 0;
}

std::vector<std::string> ZipArchive::names() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(as_zip(zip_), 0);
  for (zip_int64_t i = 0; i < n; ++i)
    if (const char* name = zip_get_name(as_zip(zip_), zip_uint64_t(i), ZIP_FL_ENC_RAW)) out.emplace_back(name);
  return out;
}

std::vector<std::byte> ZipArchive::read(const std::string& member, uint64_t max_bytes) const {
  const std::string what = name_ + ": member " + member;
  const zip_int64_t index = zip_name_locate(as_zip(zip_), member.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) raise<FormatError>("{} is missing", what);
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(as_zip(zip_), zip_uint64_t(index), 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
    raise<FormatError>("{} has an unreadable entry", what);
  if (st.size > max_bytes)
    raise<FormatError>("{} announces {} bytes, more than the limit of {}", what, st.size, max_bytes);
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(as_zip(zip_), zip_uint64_t(index), 0),
                                                         zip_fclose);
  if (!file) raise<FormatError>("{} cannot be opened ({})", what, zip_strerror(as_zip(zip_)));
  std::vector<std::byte> out(size_t(st.size) + 1);  // one byte more: a member holding more than announced shows
  size_t got = 0;
  while (got < out.size()) {
    const zip_int64_t n = zip_fread(file.get(), out.data() + got, out.size() - got);
    if (n < 0) raise<FormatError>("{} is corrupt ({})", what, zip_error_strerror(zip_file_get_error(file.get())));
    if (n == 0) break;
    got += size_t(n);
  }
  if (got > st.size) raise<FormatError>("{} holds more than the {} bytes its entry announces", what, st.size);
  if (got < st.size) raise<FormatError>("{} holds {} bytes, its entry announces {}", what, got, st.size);
  out.resize(got);
  return out;
}

}  // namespace locnet
