// The HDF5 reading layer (include/locnet/io/hdf5.hpp) on synthetic files written by h5py
// (tests/io/hdf5/generate.py, not Keras) and on the start of a real Keras file (tests/interop/keras_h5/).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "expect_error.hpp"
#include "locnet/io/hdf5.hpp"
#include "temp_dir.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/io/hdf5/";
using Hdf5Files = locnet::testing::TempDirTest;

TEST(Hdf5, ReadsStringAttributesOfEveryKind) {
  Hdf5File f(kDir + "small.h5");
  EXPECT_EQ(f.string_attribute("/", "vlen"), "a variable-length string");
  EXPECT_EQ(f.string_attribute("/", "fixed"), "fixed");
  EXPECT_EQ(f.string_array_attribute("/", "names"), (std::vector<std::string>{"dense_1", "bn"}));
  EXPECT_EQ(f.string_array_attribute("/", "vlen_names"), (std::vector<std::string>{"x", "yz"}));
  EXPECT_TRUE(f.string_array_attribute("/", "empty").empty());  // h5py's float64[0] for an empty list
  EXPECT_TRUE(f.has_attribute("/", "vlen"));
  EXPECT_FALSE(f.has_attribute("/", "absent"));
  EXPECT_FALSE(f.has_attribute("/no/such/group", "vlen"));
}

TEST(Hdf5, AttributeErrorsNameTheFileAndTheAttribute) {
  Hdf5File f(kDir + "small.h5");
  EXPECT_THROW_MSG(f.string_attribute("/", "absent"), FormatError, "small.h5: attribute 'absent' of / is missing");
  EXPECT_THROW_MSG(f.string_attribute("/", "number"), FormatError, "attribute 'number' of / must be a string");
  EXPECT_THROW_MSG(f.string_attribute("/", "names"), FormatError, "must be one string, got 2 values");
}

TEST(Hdf5, ListsGroupsOnly) {
  Hdf5File f(kDir + "small.h5");
  EXPECT_EQ(f.groups("/"), std::vector<std::string>{"model_weights"});
  EXPECT_EQ(f.groups("/model_weights"), (std::vector<std::string>{"a_layer", "b_layer"}));
  EXPECT_TRUE(f.groups("/model_weights/b_layer").empty());
  EXPECT_THROW_MSG(f.groups("/model_weights/nothing"), FormatError, "/model_weights/nothing is missing");
  EXPECT_THROW_MSG(f.groups("/model_weights/scalar"), FormatError, "/model_weights/scalar is not a group");
}

TEST(Hdf5, ReadsFloatDatasetsWithTheirShape) {
  Hdf5File f(kDir + "small.h5");
  Tensor k = f.dataset("/model_weights/a_layer/a_layer/kernel:0");
  EXPECT_EQ(k.shape(), Shape({2, 3}));
  EXPECT_EQ(k.dtype(), DType::f32);
  EXPECT_EQ(std::vector<float>(k.span<float>().begin(), k.span<float>().end()),
            (std::vector<float>{0, 1, 2, 3, 4, 5}));
  Tensor b = f.dataset("/model_weights/a_layer/a_layer/bias:0");
  EXPECT_EQ(b.dtype(), DType::f64);
  EXPECT_EQ(b.data<double>()[1], -1.25);
  Tensor s = f.dataset("/model_weights/scalar");
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.data<float>()[0], 2.5f);
  EXPECT_EQ(f.dataset("/model_weights/empty").shape(), Shape({0, 3}));
  Tensor be = f.dataset("/model_weights/big_endian");  // converted to the machine's order
  EXPECT_EQ(be.data<float>()[1], 2.5f);
}

TEST(Hdf5, DatasetErrors) {
  Hdf5File f(kDir + "small.h5");
  EXPECT_THROW_MSG(f.dataset("/model_weights/ints"), FormatError,
                   "small.h5: dataset /model_weights/ints must be float32 or float64");
  EXPECT_THROW_MSG(f.dataset("/model_weights/none"), FormatError, "dataset /model_weights/none is missing");
  EXPECT_THROW_MSG(f.dataset("/model_weights/a_layer"), FormatError, "is not a readable dataset");
}

TEST_F(Hdf5Files, RefusesWhatIsNotHdf5) {
  EXPECT_THROW_MSG(Hdf5File(path("absent.h5")), FormatError, "absent.h5: cannot open");
  const std::string text = path("text.h5");
  std::ofstream(text) << "not hdf5 at all";
  EXPECT_THROW_MSG(Hdf5File{text}, FormatError, "text.h5: not an HDF5 file");
  EXPECT_THROW_MSG(Hdf5File(dir_.string()), FormatError, "cannot open");
}

TEST(Hdf5, TruncatedFileIsAFormatErrorNotACrash) {
  try {
    Hdf5File f(kDir + "truncated.h5");  // the superblock may survive the cut; reading past it must still fail
    f.dataset("/model_weights/a_layer/a_layer/kernel:0");
    ADD_FAILURE() << "a truncated file read without error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.h5"), std::string::npos) << e.what();
  }
}

}  // namespace
