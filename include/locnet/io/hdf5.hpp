// A small read-only view of an HDF5 file (HDF5's C API), enough for Keras's .h5 files: string attributes, member
// groups and float datasets. Objects are named by absolute HDF5 paths ("/", "/model_weights/dense_1").
// Everything the file announces is bounded before use: attribute strings in total at most kMaxTextFileBytes,
// datasets of rank <= kMaxHdf5Rank and (through Tensor) at most max_tensor_bytes(). HDF5's own error printing is
// switched off; every failure is a FormatError "<path>: <what>" naming the file and the object.
// A compact or contiguous dataset must store exactly the bytes its shape and type need, inside the file (HDF5
// 1.10.8 reads a corrupt compact dataset through a null pointer otherwise).
// HDF5 as Debian builds it is not thread-safe: use one Hdf5File from one thread at a time.
// Variable-length strings (Keras's model_config, keras_version, backend): HDF5 1.10.8 trusts their stored length
// and global heap, and crashes, overflows, loops or allocates gigabytes inside H5Aread on corrupt ones
// (H5T__conv_vlen, H5HG_read); the public API cannot check them first. Their read runs in a forked child that sends
// the strings back through a pipe (at most kMaxTextFileBytes, within 2 s of CPU time and 8 * kMaxTextFileBytes of
// new memory); a child that fails is a FormatError "... is unreadable (a corrupt variable-length string ...)".
// Fixed-length strings and float datasets are read in the process, their class, size and extent checked first.
// Attribute names: HDF5 1.10.8 decodes them with strdup, reading past a corrupt message whose name lacks its zero;
// the first lookup of each (object, attribute) runs in a forked child the same way, and a child that fails is a
// FormatError "... the attributes of <object> are unreadable".
#pragma once
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet {

constexpr int kMaxHdf5Rank = 16;

class Hdf5File {
 public:
  explicit Hdf5File(const std::string& path);  // FormatError when it cannot be opened or is not HDF5
  // An HDF5 file image in memory (a .keras archive's model.weights.h5; HDF5's core driver keeps its own copy);
  // `name` stands for the path in errors. The signature must be at offset 0 (no user block).
  Hdf5File(std::span<const std::byte> image, const std::string& name);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }
  bool has_attribute(const std::string& object, const std::string& name) const;
  // A string attribute's values (fixed-length or variable-length, scalar or 1-D; trailing NULs dropped). An empty
  // array of another type gives {} (h5py writes an empty weight_names as float64[0]). FormatError when absent.
  std::vector<std::string> string_array_attribute(const std::string& object, const std::string& name) const;
  // Exactly one string (a scalar, or an array of one).
  std::string string_attribute(const std::string& object, const std::string& name) const;
  bool has_object(const std::string& object) const;
  // The names of object's member groups, in HDF5's name order. FormatError when object is not a group.
  std::vector<std::string> groups(const std::string& object) const;
  // A float32 or float64 dataset with its shape (a scalar has rank 0); FormatError for any other type.
  Tensor dataset(const std::string& object) const;

 private:
  void check_storage(int64_t dataset, uint64_t bytes, const std::string& what) const;

  std::string path_;
  int64_t id_ = -1;  // hid_t
  mutable std::set<std::string> checked_attributes_;  // object '\0' name: looked up in a child first
};

}  // namespace locnet
