// A read-only view of a zip archive held in memory (libzip), enough for Keras 3's .keras files: whether a member
// exists and a member's bytes. Every size is bounded before use: a member is read only when the size its entry
// announces is at most the caller's limit, and at most that many bytes are read (a zip bomb announcing less than
// it holds is a FormatError, not an allocation). Stored and deflated members are read; libzip checks their CRC.
// Every failure is a FormatError "<name>: <what>" naming the archive and the member.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace locnet {

class ZipArchive {
 public:
  // `bytes` must outlive the archive; `name` names it in errors. FormatError when it is not a readable zip.
  ZipArchive(std::span<const std::byte> bytes, std::string name);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  bool has(const std::string& member) const;
  std::vector<std::string> names() const;  // the members, in the archive's order
  // The member's bytes; FormatError when it is missing, announces more than max_bytes, or is corrupt.
  std::vector<std::byte> read(const std::string& member, uint64_t max_bytes) const;

 private:
  std::string name_;
  void* zip_ = nullptr;  // zip_t
};

}  // namespace locnet
