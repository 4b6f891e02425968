// NumPy .npy files (format versions 1.0, 2.0 and 3.0 on read; 1.0, or 2.0 for long headers, on write).
// dtypes: '<f4' (f32), '<f8' (f64), '<f2' (f16), and bf16 as ml_dtypes writes it ('<V2' is not
// self-describing, so bf16 is written and read as descr 'bfloat16'). Little-endian, C order only: Fortran
// order, big-endian or any other dtype is a FormatError. Readers check magic, header length, the header
// dictionary, the shape (overflow) and the data size before touching data: a corrupt or truncated file is a
// FormatError, never a crash. read_npy reads no further than the header announces (a header over 1 MiB is a
// FormatError, data over max_tensor_bytes() a ConfigError as for any tensor, both before the data is read), so
// an endless input such as /dev/zero or a pipe ends at once. write_npy writes through write_file_atomic (io/file.hpp); a path ending in another format's
// extension (".csv") raises ConfigError.
// uint8 arrays ('|u1', e.g. images) are read only where the caller asks for them (was_uint8 not null): their
// values become an f32 tensor (0 to 255, unscaled) and *was_uint8 is set, so the caller can scale them.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet {

Tensor read_npy(const std::string& path);
Tensor parse_npy(std::span<const std::byte> bytes, bool* was_uint8 = nullptr);  // the whole file's bytes
void write_npy(const std::string& path, const Tensor& t);

// The header of an .npy file of any dtype, for readers that convert the elements themselves (the memory-mapped
// data sets of train/sources.hpp): descr as written ('<i8', '|u1', ...), shape, and where the data starts. The
// checks of read_npy on magic, version, header and fortran_order; `head` must hold the whole header.
struct NpyHeader {
  std::string descr;
  Shape shape;
  uint64_t data_offset = 0;
};
NpyHeader parse_npy_header(std::span<const std::byte> head);
std::vector<std::byte> serialize_npy(const Tensor& t);

}  // namespace locnet
