// Whole-file reads and crash-safe writes: write_file_atomic writes "<path>.tmp.<pid>", flushes it to disk and
// renames it over path, so a crash leaves either the old file or the new one, never half of one.
// Errors: FormatError naming the path and the OS reason.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace locnet {

std::vector<std::byte> read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

}  // namespace locnet
