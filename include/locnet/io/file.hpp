// Bounded whole-file reads and writes that never destroy what the path pointed to.
//
// read_file(path, length) reads a file whose header announces its length: `length` gets the bytes read so far
// and returns the whole file's length as far as they tell (more bytes may raise it), or throws FormatError as soon
// as they show a wrong file (ConfigError: larger than max_tensor_bytes()); read_file puts the path in front.
// Reading stops at the end of the file or one byte past the announced length (so the parser sees that more
// follows): an endless input (/dev/zero, a pipe) costs what its header announces and no more.
// read_file(path, max_bytes) reads a whole file of at most max_bytes (default max_tensor_bytes()); a longer one
// raises FormatError. Pipes, FIFOs and devices are read like regular files.
// read_parsed(path, length, parse) returns parse(read_file(path, length)) and puts the path in front of a
// FormatError that parse throws: the one way every file format's read_<format>(path) reports.
//
// write_file_atomic(path, bytes): a regular file, or a path that does not exist yet, is written to
// "<path>.tmp.<pid>", flushed to disk and renamed over path, so a crash or a failed write leaves the old file or
// the new one, never half of one; the new file keeps the old one's permissions. A symbolic link is followed: its
// target is replaced and the link stays. A FIFO, device or other special file is written in place (no temporary
// file, no rename), e.g. /dev/stdout. Every write and the final fsync and close are checked.
// Errors: FormatError "<path>: <what> failed: <OS reason> (<errno name>)".
//
// known_format(head) names the format a file's first bytes identify ("npy", "safetensors", "IDX", "gzip", "zip",
// "HDF5", "PNG", "JPEG"), or "" when none: readers say "not a <format> file (it starts with the <other> magic)".
// check_extension(path, format, ext) raises ConfigError when path ends in the extension of another known format
// (".csv" for an npy writer), so a file is never written in a format its name denies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/error.hpp"

namespace locnet {

constexpr uint64_t kMaxTextFileBytes = uint64_t(16) << 20;  // spec text, CSV logs: read_file(path, this)

using AnnouncedLength = std::function<uint64_t(std::span<const std::byte> head)>;
std::vector<std::byte> read_file(const std::string& path, const AnnouncedLength& length);
std::vector<std::byte> read_file(const std::string& path, uint64_t max_bytes);
std::vector<std::byte> read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

template <class Parse>
auto read_parsed(const std::string& path, const AnnouncedLength& length, Parse&& parse) {
  const std::vector<std::byte> bytes = read_file(path, length);
  try {
    return parse(std::span<const std::byte>(bytes));
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", path, e.what());
  }
}

std::string_view known_format(std::span<const std::byte> head);
void check_extension(const std::string& path, std::string_view format, std::string_view ext);

}  // namespace locnet
