// The file sources of train/sources.hpp. tests/train/sources/ holds real NumPy output (generate.py there); the
// bad files, the CSV tables and the IDX files are synthetic, written here.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "expect_error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/losses.hpp"
#include "locnet/train/optimizers.hpp"
#include "locnet/train/sources.hpp"
#include "locnet/train/trainer.hpp"
#include "io/write_idx.hpp"
#include "temp_dir.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/train/sources/";

Batch all(const Dataset& d) {
  std::vector<int64_t> idx(size_t(d.size()));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i);
  Batch b;
  d.gather(idx, b);
  return b;
}

void write_text(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary) << s; }

// An .npy file with any header and data, for the bad-file tests.
void write_raw_npy(const std::string& path, const std::string& descr, const std::string& shape,
                   const std::string& data) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  h.append(64 - (10 + h.size() + 1) % 64, ' ');
  h += '\n';
  std::string f = "\x93NUMPY\x01";
  f += '\0';
  f += char(h.size() & 0xff);
  f += char(h.size() >> 8);
  write_text(path, f + h + data);
}

class Sources : public locnet::testing::TempDirTest {};

}  // namespace

TEST_F(Sources, NpyOfEveryNumpyDtypeIsReadAsWritten) {
  for (const char* dtype : {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint16", "uint32",
                            "uint64", "bool", "uint8"}) {
    SCOPED_TRACE(dtype);
    auto d = npy_dataset(kDir + "x_" + dtype + ".npy", kDir + "y_int64.npy");
    EXPECT_EQ(d->size(), 4);
    EXPECT_EQ(d->sample_shape(), (Shape{3}));
    EXPECT_EQ(d->target_kind(), TargetKind::labels);
    EXPECT_EQ(d->classes(), 3);
    Batch b;
    std::vector<int64_t> idx{3, 1};
    d->gather(idx, b);
    ASSERT_EQ(b.x.shape(), (Shape{2, 3}));
    EXPECT_EQ(b.labels, (std::vector<int64_t>{0, 1}));
    const bool is_float = dtype[0] == 'f', is_bool = dtype[0] == 'b', is_u8 = std::string(dtype) == "uint8";
    for (int j = 0; j < 3; ++j) {  // sample 3: flat indices 9, 10, 11
      const int i = 9 + j;
      double want = is_float ? i * 0.5 - 3 : is_bool ? (i % 7 != 0) : i % 7;
      if (is_u8) want = float(want * kIdxImageScale);  // uint8 is scaled as IDX images are
      EXPECT_FLOAT_EQ(b.x.data<float>()[j], float(want));
    }
  }
}

TEST_F(Sources, NpyFloatTargets) {
  auto d = npy_dataset(kDir + "x_float64.npy", kDir + "y_float32.npy");
  EXPECT_EQ(d->target_kind(), TargetKind::values);
  EXPECT_EQ(d->target_shape(), (Shape{2}));
  Batch b = all(*d);
  EXPECT_EQ(b.targets.shape(), (Shape{4, 2}));
  EXPECT_EQ(b.targets.data<float>()[7], 0.5f);  // 7 * 0.5 - 3
  EXPECT_TRUE(b.labels.empty());
}

TEST_F(Sources, BadNpyFilesNameTheFileAndTheProblem) {
  const std::string y = kDir + "y_int64.npy";
  write_raw_npy(path("short.npy"), "<f4", "(4, 3)", std::string(40, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(path("short.npy"), y), FormatError, "short.npy: data must be 48 bytes (shape (4, 3)), "
                                                                  "got 40 (the file is truncated)");
  write_raw_npy(path("long.npy"), "<f4", "(4, 3)", std::string(52, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(path("long.npy"), y), FormatError, "long.npy: data must be 48 bytes");
  write_raw_npy(path("complex.npy"), "<c8", "(4, 3)", std::string(96, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(path("complex.npy"), y), FormatError, "complex.npy: dtype must be one of");
  write_raw_npy(path("big_endian.npy"), ">i4", "(4, 3)", std::string(48, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(path("big_endian.npy"), y), FormatError, "got '>i4'");
  write_raw_npy(path("empty.npy"), "<f4", "(0, 3)", std::string(0, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(path("empty.npy"), y), FormatError, "must hold (N, ...) samples with N >= 1");
  write_text(path("garbage.npy"), "not an npy file at all");
  EXPECT_THROW_MSG(npy_dataset(path("garbage.npy"), y), FormatError, "garbage.npy: npy: magic must be");
  EXPECT_THROW_MSG(npy_dataset(path("missing.npy"), y), FormatError, "missing.npy: cannot open");
  write_raw_npy(path("y3.npy"), "<i8", "(3,)", std::string(24, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(kDir + "x_float32.npy", path("y3.npy")), ShapeError,
                   "the number of targets must be 4 (one per sample), got 3");
  write_raw_npy(path("y2d.npy"), "<i8", "(4, 1)", std::string(32, '\x01'));
  EXPECT_THROW_MSG(npy_dataset(kDir + "x_float32.npy", path("y2d.npy")), ShapeError,
                   "y2d.npy: integer labels must be (N,), got shape (4, 1)");
  write_raw_npy(path("neg.npy"), "|i1", "(4,)", std::string("\x00\x01\xff\x02", 4));
  EXPECT_THROW_MSG(npy_dataset(kDir + "x_float32.npy", path("neg.npy")), ShapeError,
                   "neg.npy: label of sample 2 must be >= 0, got -1");
  Batch b;
  std::vector<int64_t> bad{4};
  EXPECT_THROW_MSG(npy_dataset(kDir + "x_float32.npy", y)->gather(bad, b), ShapeError,
                   "sample index must be in [0, 4), got 4");
}

// A data set larger than the tensor byte limit: read_npy refuses the file, the mapped source trains on it batch by
// batch through fit and evaluate (each gather reads only its rows).
TEST_F(Sources, MappedNpyLargerThanTheTensorLimitTrainsBatchByBatch) {
  const int64_t n = 2048, f = 16;
  Tensor x(Shape{n, f});
  std::string y(size_t(n), '\0');  // uint8 labels
  for (int64_t i = 0; i < n; ++i) {
    y[size_t(i)] = char(i % 2);
    for (int64_t j = 0; j < f; ++j) x.data<float>()[i * f + j] = float((i % 2 ? 1 : -1) * (j + 1)) * 0.1f;
  }
  write_npy(path("x.npy"), x);
  write_raw_npy(path("y.npy"), "|u1", "(2048,)", y);
  const uint64_t old = max_tensor_bytes();
  set_max_tensor_bytes(uint64_t(n * f * 4 / 8));  // an eighth of x
  try {
    EXPECT_THROW(read_npy(path("x.npy")), ConfigError);  // a whole-file read is refused
    auto d = npy_dataset(path("x.npy"), path("y.npy"));
    Model model = parse_model("Input((16,)) >> Dense(2)");
    model.build(*model.input_shape(), 0);
    auto opt = make_optimizer("SGD(0.1)", "test");
    const double before = evaluate(model, *d, 64).loss;  // the trainer's own loops, batch by batch
    FitOptions o;
    o.batch_size = 64;
    FitResult r = fit(model, *opt, *d, nullptr, o);
    ASSERT_EQ(r.history.size(), 1u);
    EXPECT_LT(evaluate(model, *d, 64).loss, before * 0.5);
  } catch (...) {
    set_max_tensor_bytes(old);
    throw;
  }
  set_max_tensor_bytes(old);
}

TEST_F(Sources, NpzKeysDefaultsAndKerasNames) {
  auto d = npz_dataset(kDir + "arrays.npz");  // x, y
  EXPECT_EQ(d->size(), 4);
  EXPECT_EQ(d->name(), kDir + "arrays.npz[x]");
  EXPECT_EQ(all(*d).labels, (std::vector<int64_t>{0, 1, 2, 0}));
  auto k = npz_dataset(kDir + "keras.npz");  // x_train, y_train (deflated)
  EXPECT_EQ(k->size(), 5);
  EXPECT_EQ(k->sample_shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(all(*k).x.data<float>()[5], float(5 * kIdxImageScale));
  auto o = npz_dataset(kDir + "other_names.npz");  // the first two arrays
  EXPECT_EQ(o->name(), kDir + "other_names.npz[features]");
  EXPECT_EQ(o->classes(), 3);
  auto t = npz_dataset(kDir + "keras.npz", "x_test", "y_test");
  EXPECT_EQ(all(*t).labels, (std::vector<int64_t>{1, 0}));
  EXPECT_THROW_MSG(npz_dataset(kDir + "keras.npz", "images", "y_train"), FormatError,
                   "keras.npz: must hold the array 'images' (--x-key/--y-key), got the arrays [x_train, y_train, "
                   "x_test, y_test]");
}

TEST_F(Sources, BadNpzFiles) {
  write_text(path("bad.npz"), "PK\x03\x04 this is not really a zip");
  EXPECT_THROW_MSG(npz_dataset(path("bad.npz")), FormatError, "bad.npz: not a readable zip archive");
  std::ifstream in(kDir + "arrays.npz", std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  write_text(path("cut.npz"), bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(npz_dataset(path("cut.npz")), FormatError);
}

TEST_F(Sources, CsvNumericCategoricalAndQuoted) {
  write_text(path("t.csv"),
             "age,city,\"note, quoted\",species\r\n"
             "1.5,Paris,\"a \"\"b\"\"\",setosa\r\n"
             "2,Oslo,\"multi\nline\",virginica\r\n"
             "-3e1,Paris,x,setosa\r\n");
  // Features: age (numeric), city one-hot [Oslo, Paris], note one-hot [a "b", multi\nline, x]; target: species.
  auto d = csv_dataset(path("t.csv"), {"species"});
  EXPECT_EQ(d->size(), 3);
  EXPECT_EQ(d->sample_shape(), (Shape{6}));
  EXPECT_EQ(d->class_names(), (std::vector<std::string>{"setosa", "virginica"}));
  Batch b = all(*d);
  EXPECT_EQ(b.labels, (std::vector<int64_t>{0, 1, 0}));
  const std::vector<float> want{1.5f, 0, 1, 1, 0, 0, 2, 1, 0, 0, 1, 0, -30, 0, 1, 0, 0, 1};
  EXPECT_EQ(std::vector<float>(b.x.data<float>(), b.x.data<float>() + 18), want);
}

TEST_F(Sources, CsvTargetsNumericAndSeveral) {
  write_text(path("r.csv"), "a,b,y1,y2\n1,2,0.5,3\n3,4,1.5,2\n");
  auto last = csv_dataset(path("r.csv"));  // default target: the last column, whole numbers -> labels
  EXPECT_EQ(last->target_kind(), TargetKind::labels);
  EXPECT_EQ(last->classes(), 4);
  auto one = csv_dataset(path("r.csv"), {"y1"});  // fractional -> a float target
  EXPECT_EQ(one->target_kind(), TargetKind::values);
  EXPECT_EQ(one->sample_shape(), (Shape{3}));
  auto two = csv_dataset(path("r.csv"), {"y1", "y2"});
  EXPECT_EQ(two->target_shape(), (Shape{2}));
  EXPECT_EQ(all(*two).targets.data<float>()[2], 1.5f);
}

TEST_F(Sources, BadCsvFilesNameTheRowAndColumn) {
  write_text(path("m.csv"), "a,b,y\n1,2,0\n3,,1\n");
  EXPECT_THROW_MSG(csv_dataset(path("m.csv")), FormatError, "m.csv: row 3, column 'b': a value is missing (got '')");
  write_text(path("na.csv"), "a,b,y\n1,2,0\n3,4,1\nNA,1,0\n");
  EXPECT_THROW_MSG(csv_dataset(path("na.csv")), FormatError,
                   "na.csv: row 4, column 'a': a value is missing (got 'NA')");
  write_text(path("ragged.csv"), "a,b,y\n1,2,0\n3,4\n");
  EXPECT_THROW_MSG(csv_dataset(path("ragged.csv")), FormatError, "ragged.csv: row 3 must have 3 fields (as the "
                                                                 "header), got 2");
  write_text(path("q.csv"), "a,y\n\"open,1\n");
  EXPECT_THROW_MSG(csv_dataset(path("q.csv")), FormatError, "row 2: the quoted field starting at byte 4 must end");
  EXPECT_THROW_MSG(csv_dataset(path("m.csv"), {"label"}), FormatError,
                   "the header must name the target column 'label'");
  write_text(path("h.csv"), "a,y\n");
  EXPECT_THROW_MSG(csv_dataset(path("h.csv")), FormatError, "must hold a header row and at least one data row");
  std::string ids = "id,y\n";
  for (int i = 0; i < 1025; ++i) ids += fmt::format("u{},1\n", i);
  write_text(path("ids.csv"), ids);
  EXPECT_THROW_MSG(csv_dataset(path("ids.csv")), FormatError, "ids.csv: column 'id' must have at most 1024 distinct "
                                                              "non-numeric values to be one-hot encoded, got 1025");
  write_text(path("s.csv"), "a,y1,y2\n1,cat,2\n");
  EXPECT_THROW_MSG(csv_dataset(path("s.csv"), {"y1", "y2"}), FormatError,
                   "target column 'y1' must be numeric when there are several targets, got 'cat'");
}

TEST_F(Sources, IdxOfAnyElementType) {
  IdxArray x{0x0B, {3, 2}, {}}, y{0x0C, {3}, {}};  // int16 samples, int32 labels
  for (int16_t v : {-1, 2, 3, -4, 5, 6}) x.data.insert(x.data.end(), (unsigned char*)&v, (unsigned char*)&v + 2);
  for (int32_t v : {2, 0, 1}) y.data.insert(y.data.end(), (unsigned char*)&v, (unsigned char*)&v + 4);
  write_idx(path("x.idx"), x, false);
  write_idx(path("y.idx.gz"), y, true);
  auto d = idx_dataset(path("x.idx"), path("y.idx.gz"));
  Batch b = all(*d);
  EXPECT_EQ(b.x.shape(), (Shape{3, 2}));
  EXPECT_EQ(b.x.data<float>()[3], -4.0f);  // int16 is used as it is
  EXPECT_EQ(b.labels, (std::vector<int64_t>{2, 0, 1}));
  IdxArray img{0x08, {3, 2, 2}, std::vector<unsigned char>(12, 255)};
  write_idx(path("img.idx"), img, false);
  auto i = idx_dataset(path("img.idx"), path("y.idx.gz"));
  EXPECT_EQ(i->sample_shape(), (Shape{2, 2, 1}));  // images get a channel axis
  EXPECT_EQ(all(*i).x.data<float>()[0], 1.0f);
  IdxArray y2{0x08, {2}, {0, 1}};
  write_idx(path("y2.idx"), y2, false);
  EXPECT_THROW_MSG(idx_dataset(path("x.idx"), path("y2.idx")), ShapeError,
                   "the number of targets must be 3 (one per sample), got 2");
  write_text(path("short.idx"), std::string("\0\0\x08\x01\0\0\0\x05\x01\x02", 10));
  EXPECT_THROW_MSG(idx_dataset(path("short.idx"), path("y2.idx")), FormatError, "short.idx: IDX sizes (5,)");
}

TEST_F(Sources, OpenDatasetPicksTheSourceAndChecksOptions) {
  DataSets s = open_dataset({.x = kDir + "x_float32.npy", .y = kDir + "y_int64.npy",
                             .val_x = kDir + "x_int8.npy", .val_y = kDir + "y_int64.npy"});
  EXPECT_EQ(s.train->size(), 4);
  ASSERT_TRUE(s.validation);
  DataSets k = open_dataset({.data = kDir + "keras.npz"});
  ASSERT_TRUE(k.validation);  // x_test / y_test
  EXPECT_EQ(k.validation->size(), 2);
  EXPECT_FALSE(open_dataset({.data = kDir + "arrays.npz"}).validation);
  write_text(path("t.csv"), "a,y\n1,x\n2,z\n");
  EXPECT_EQ(open_dataset({.data = path("t.csv")}).train->classes(), 2);
  EXPECT_THROW_MSG(open_dataset({.data = "d", .x = "x.npy", .y = "y.npy"}), ConfigError, "--data and --x/--y");
  EXPECT_THROW_MSG(open_dataset({.x = "x.npy"}), ConfigError, "--x and --y go together, got only --x");
  EXPECT_THROW_MSG(open_dataset({.data = path("t.csv"), .x_key = "a"}), ConfigError, "--x-key/--y-key are for an .npz");
  EXPECT_THROW_MSG(open_dataset({.data = kDir + "arrays.npz", .targets = {"a"}}), ConfigError,
                   "--target is for a .csv");
  EXPECT_THROW_MSG(open_dataset({.data = dir_.string()}), ConfigError, "must hold train-images-idx3-ubyte");
  EXPECT_THROW_MSG(open_dataset({.data = kDir + "x_float32.npy"}), ConfigError, "give --x and --y");
  EXPECT_THROW_MSG(open_dataset({.data = path("nowhere.csv")}), FormatError, "nowhere.csv: no such file or directory");
}
