// safetensors files: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
// then the raw little-endian data. dtypes F32, F64, BF16, F16, and on reading I64 (PyTorch's integer buffers
// such as num_batches_tracked): Tensor has no integer dtype, so an I64 tensor is read as F64 holding the same
// values (a value beyond +-2^53, which F64 cannot hold exactly, is a FormatError) and TensorFile::int64 names it.
// The reader checks the header length against the
// file size, the JSON, every dtype, shape (overflow), offset pair (in range, size = numel * itemsize, the pairs tiling the data exactly with no gap or overlap)
// before it copies anything: a corrupt or truncated file is a FormatError. read_safetensors reads no further than
// the header's offsets announce (data over max_tensor_bytes() is a ConfigError before it is read), so an endless
// input ends at once; a file of another known format is "not a safetensors file (it starts with the npy magic)".
// The writer keeps insertion order, aligns data to 8 bytes by padding the header with spaces and writes through
// write_file_atomic (io/file.hpp); a path ending in another format's extension (".npy") raises ConfigError.
#pragma once
#include <cstddef>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet {

struct TensorFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;
  std::set<std::string, std::less<>> int64;  // tensors the file stores as I64 (read as F64); the writer ignores it
  const Tensor* find(std::string_view name) const;
};

TensorFile read_safetensors(const std::string& path);
TensorFile parse_safetensors(std::span<const std::byte> bytes);
void write_safetensors(const std::string& path, const TensorFile& file);
std::vector<std::byte> serialize_safetensors(const TensorFile& file);

}  // namespace locnet
