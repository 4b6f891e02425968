// Data sets read from files (docs/data.md): .npy pairs (memory-mapped), .npz archives, CSV tables, IDX files, and
// open_dataset(), which picks the source from the paths given (`locnet train --data/--x/--y`).
//
// Arrays (.npy, .npz, IDX): x is (N, sample...) of any dtype NumPy writes for numbers ('<f2', '<f4', '<f8', '|i1',
// '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '<u8', '|b1'), converted to f32 when gathered: uint8 is scaled by
// 1/255 (kIdxImageScale, the scaling `locnet train` records in its model files, so predict scales alike), every
// other dtype is used as it is. y is (N,) of an integer dtype -> class labels (classes = max + 1), or of a float
// dtype (any rank) -> float targets (TargetKind::values). IDX images (N, rows, cols) get a channel axis:
// (rows, cols, 1), as load_idx_images gives them.
// .npy files are memory-mapped: only the header is parsed on open (io/npy.hpp's checks), gather reads the rows
// asked for, so a data set larger than memory (or than max_tensor_bytes()) streams from disk. .npz members (stored
// or deflated) and IDX files (plain or gzip) are read into memory, each bounded by max_tensor_bytes().
// CSV (RFC 4180, a header row): see csv_dataset.
// Errors name the file: FormatError for a bad or truncated file, a ragged row, a missing value, an unknown dtype;
// ShapeError for counts that differ or labels out of range (a negative label); ConfigError for bad options.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "locnet/train/dataset.hpp"
#include "locnet/train/image_folder.hpp"

namespace locnet {

std::shared_ptr<Dataset> npy_dataset(const std::string& x_path, const std::string& y_path);
std::shared_ptr<Dataset> idx_dataset(const std::string& x_path, const std::string& y_path);

// Arrays x_key and y_key of an .npz (np.savez's names, without ".npy"). Empty keys: "x" and "y", else Keras's
// "x_train" and "y_train", else the archive's first two arrays. FormatError naming the keys it holds when a key
// is missing.
std::shared_ptr<Dataset> npz_dataset(const std::string& path, const std::string& x_key = "",
                                     const std::string& y_key = "");

// A CSV table with a header row (RFC 4180: quoted fields, "" inside quotes, CRLF or LF). `targets` name the
// target columns (empty: the last column); every other column is a feature. A numeric feature column is used as
// it is; a non-numeric one is one-hot encoded, its categories in sorted (byte) order, one column each, in the
// header's order. One target column: non-numeric -> class labels, its sorted values the class names; whole
// numbers >= 0 -> class labels (numbered); other numbers -> a float target (1,). Several target columns: float
// targets (k,), numeric only. Missing values (an empty cell, NA, N/A, NaN, nan, null) are a FormatError naming the
// row (1-based, the header is row 1) and the column, as are a ragged row and an unknown target column.
std::shared_ptr<Dataset> csv_dataset(const std::string& path, const std::vector<std::string>& targets = {});

struct DataOptions {
  std::string data;                 // a directory of IDX files (train-*/t10k-*), an .npz, a .csv, a folder of classes
  std::string x, y, val_x, val_y;   // .npy (or IDX) pairs
  std::string x_key, y_key;         // .npz
  std::vector<std::string> targets; // .csv
  ImageFolderOptions images;        // image folders: train/<class>/ (+ test/<class>/) or <class>/ (image_folder.hpp)
};
struct DataSets {
  std::shared_ptr<Dataset> train, validation;  // validation: null when the source has none
};
// Validation data: --val-x/--val-y; an IDX directory's t10k-* files; an .npz's "x_test"/"y_test" when the training
// arrays are "x_train"/"y_train". ConfigError for options that do not go together (--data with --x, --x without
// --y, --x-key for a CSV, ...).
DataSets open_dataset(const DataOptions& options);

}  // namespace locnet
