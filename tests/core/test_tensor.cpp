// tensor.hpp: storage, views, conversions and element access. Expected values are hand-derived (IEEE bit
// patterns, exact binary fractions), never read back from the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/tensor.hpp"

using namespace locnet;

namespace {

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16};

bool all_bytes_zero(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i)
    if (p[i] != 0) return false;
  return true;
}

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Builds a tensor of the given dtype from raw 16-bit patterns.
template <class T>
Tensor from_bits(const std::vector<uint16_t>& bits) {
  Tensor t(Shape{int64_t(bits.size())}, dtype_v<T>);
  for (size_t i = 0; i < bits.size(); ++i) t.data<T>()[i] = T{bits[i]};
  return t;
}

template <class T>
std::vector<uint16_t> bits_of(const Tensor& t) {
  std::vector<uint16_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.data<T>()[i].bits);
  return out;
}

}  // namespace

TEST(Tensor, DefaultIsUndefined) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.nbytes(), 0u);
  EXPECT_FALSE(t.clone().defined());
  EXPECT_THROW_MSG(t.data<float>(), ShapeError, "must be defined");
}

TEST(Tensor, ConstructionIsZeroFilledForEveryDType) {
  for (DType dt : kAllDTypes) {
    Tensor t(Shape{3, 5, 7}, dt);
    EXPECT_TRUE(t.defined());
    EXPECT_EQ(t.dtype(), dt);
    EXPECT_EQ(t.shape(), (Shape{3, 5, 7}));
    EXPECT_EQ(t.rank(), 3u);
    EXPECT_EQ(t.dim(-1), 7);
    EXPECT_EQ(t.numel(), 105);
    EXPECT_EQ(t.nbytes(), 105 * dtype_size(dt));
    EXPECT_TRUE(all_bytes_zero(t)) << dtype_name(dt);
    for (double v : t.to_vector()) EXPECT_EQ(v, 0.0);
  }
  EXPECT_EQ(Tensor(Shape{2}).dtype(), DType::f32);  // the default dtype
}

TEST(Tensor, StridesAreContiguousRowMajor) {
  Tensor t(Shape{2, 3, 4});
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.reshape(Shape{4, 6}).strides(), (std::vector<int64_t>{6, 1}));
}

TEST(Tensor, RawIs64ByteAlignedForManySizes) {
  std::vector<Tensor> keep;  // keep them alive so that the allocator cannot hand back the same block each time
  for (int64_t n = 0; n <= 130; ++n) {
    for (DType dt : kAllDTypes) {
      Tensor t(Shape{n}, dt);
      ASSERT_EQ(address(t.raw()) % 64, 0u) << "n=" << n << " " << dtype_name(dt);
      Tensor e = Tensor::empty(Shape{n}, dt);
      ASSERT_EQ(address(e.raw()) % 64, 0u) << "empty n=" << n << " " << dtype_name(dt);
      keep.push_back(t);
    }
  }
  for (int64_t n : {1000, 4097, 65537, 1 << 20}) {
    Tensor t(Shape{n, 3}, DType::bf16);
    EXPECT_EQ(address(t.raw()) % 64, 0u) << n;
    EXPECT_EQ(address(t.reshape(Shape{-1}).raw()) % 64, 0u) << n;
  }
  EXPECT_EQ(kAlignment, 64u);
}

TEST(Tensor, EmptyHasShapeAndDType) {
  Tensor e = Tensor::empty(Shape{4, 2}, DType::f64);
  EXPECT_TRUE(e.defined());
  EXPECT_EQ(e.shape(), (Shape{4, 2}));
  EXPECT_EQ(e.dtype(), DType::f64);
  EXPECT_EQ(e.nbytes(), 64u);
  e.fill(2.5);
  for (double v : e.to_vector()) EXPECT_EQ(v, 2.5);
}

TEST(Tensor, UnknownOrNegativeDimensionsAreRejected) {
  EXPECT_THROW_MSG(Tensor(Shape{Shape::kUnknown, 3}), ShapeError, "must be known");
  EXPECT_THROW_MSG(Tensor::empty(Shape{2, -5}), ShapeError, "must be known");
}

TEST(Tensor, FromCopiesValuesWithTheRightDType) {
  Tensor t = Tensor::from<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.data<float>()[4], 5.0f);

  Tensor d = Tensor::from<double>({0.1, -0.25}, Shape{2});
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.item(0), 0.1);
  EXPECT_EQ(d.item(1), -0.25);

  Tensor b = Tensor::from<bf16>({bf16{0x3f80}, bf16{0xc000}}, Shape{2});
  EXPECT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1.0, -2.0}));

  Tensor h = Tensor::from<f16>({f16{0x3c00}, f16{0x7bff}, f16{0x0001}}, Shape{3});
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_EQ(h.to_vector(), (std::vector<double>{1.0, 65504.0, std::ldexp(1.0, -24)}));

  Tensor scalar = Tensor::from<float>({7}, Shape{});
  EXPECT_EQ(scalar.rank(), 0u);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.item(0), 7.0);
}

TEST(Tensor, FromRejectsWrongNumberOfValues) {
  EXPECT_THROW_MSG(Tensor::from<float>({1, 2, 3, 4, 5}, Shape{2, 3}), ShapeError,
                   "Tensor::from: the number of values must be 6, got 5");
  EXPECT_THROW_MSG(Tensor::from<double>({1, 2, 3, 4, 5, 6, 7}, Shape{2, 3}), ShapeError, "must be 6, got 7");
}

TEST(Tensor, TypedAccessChecksTheDType) {
  Tensor t(Shape{2, 3}, DType::f32);
  EXPECT_NO_THROW(t.data<float>());
  EXPECT_THROW_MSG(t.data<double>(), ShapeError, "dtype must be f64, got f32");
  EXPECT_THROW_MSG(t.data<bf16>(), ShapeError, "dtype must be bf16, got f32");
  EXPECT_THROW_MSG(t.span<f16>(), ShapeError, "dtype must be f16, got f32");
  const Tensor& c = t;
  EXPECT_THROW_MSG(c.data<double>(), ShapeError, "dtype must be f64, got f32");
  Tensor h(Shape{4}, DType::f16);
  EXPECT_THROW_MSG(h.data<float>(), ShapeError, "(4,): dtype must be f32, got f16");
  EXPECT_EQ(h.span<f16>().size(), 4u);
  EXPECT_EQ(static_cast<const void*>(h.span<f16>().data()), h.raw());
}

TEST(Tensor, CopiesAliasStorage) {
  Tensor a(Shape{3});
  Tensor b = a;
  EXPECT_TRUE(b.shares_storage_with(a));
  b.set(1, 4.5);
  EXPECT_EQ(a.item(1), 4.5);
}

TEST(Tensor, ReshapeIsAViewOfTheSameStorage) {
  Tensor t = Tensor::from<float>({0, 1, 2, 3, 4, 5}, Shape{2, 3});
  Tensor v = t.reshape(Shape{3, 2});
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_TRUE(v.shares_storage_with(t));
  EXPECT_EQ(v.raw(), t.raw());
  EXPECT_EQ(v.to_vector(), t.to_vector());
  v.set(5, 42.0);
  v.data<float>()[0] = -1.0f;
  EXPECT_EQ(t.item(5), 42.0);
  EXPECT_EQ(t.item(0), -1.0);
  t.set(2, 9.0);
  EXPECT_EQ(v.item(2), 9.0);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));  // the original keeps its shape
}

TEST(Tensor, ReshapeInfersOneDimension) {
  Tensor t(Shape{2, 3, 4});
  EXPECT_EQ(t.reshape(Shape{-1}).shape(), (Shape{24}));
  EXPECT_EQ(t.reshape(Shape{-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_EQ(t.reshape(Shape{2, -1}).shape(), (Shape{2, 12}));
  EXPECT_EQ(t.reshape(Shape{4, -1, 3}).shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(t.reshape(Shape{1, 24, 1}).shape(), (Shape{1, 24, 1}));
  EXPECT_EQ(t.reshape(Shape{-1, 1}).shape(), (Shape{24, 1}));
  EXPECT_TRUE(t.reshape(Shape{-1, 4}).shares_storage_with(t));
}

TEST(Tensor, ReshapeErrors) {
  Tensor t(Shape{2, 3});
  EXPECT_THROW_MSG(t.reshape(Shape{-1, -1}), ShapeError, "at most one dimension may be -1");
  EXPECT_THROW_MSG(t.reshape(Shape{-1, 4}), ShapeError, "cannot infer -1 from 6 elements");
  EXPECT_THROW_MSG(t.reshape(Shape{4, 2}), ShapeError, "reshape (2, 3) -> (4, 2): number of elements must be 6, got 8");
  EXPECT_THROW_MSG(t.reshape(Shape{5}), ShapeError, "must be 6, got 5");
  EXPECT_THROW_MSG(t.reshape(Shape{-2, -3}), ShapeError, "dimensions must be >= 0 or -1");
}

TEST(Tensor, Flatten) {
  Tensor t(Shape{2, 3, 4});
  EXPECT_EQ(t.flatten().shape(), (Shape{2, 12}));
  EXPECT_EQ(t.flatten(0).shape(), (Shape{24}));
  EXPECT_EQ(t.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(t.flatten(2).shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(t.flatten().shares_storage_with(t));
  // As Keras's Flatten: a tensor with only a batch axis gains a feature axis of 1.
  EXPECT_EQ(Tensor(Shape{5}).flatten().shape(), (Shape{5, 1}));
  EXPECT_THROW_MSG(t.flatten(4), ShapeError, "start_dim must be <= 3, got 4");

  Tensor f = t.flatten();
  f.set(13, 3.0);
  EXPECT_EQ(t.item(13), 3.0);
}

TEST(Tensor, CloneIsDeep) {
  for (DType dt : kAllDTypes) {
    Tensor t(Shape{2, 2}, dt);
    t.set(0, 1.0);
    t.set(3, -2.0);
    Tensor c = t.clone();
    EXPECT_FALSE(c.shares_storage_with(t));
    EXPECT_NE(c.raw(), t.raw());
    EXPECT_TRUE(c.equal(t));
    EXPECT_EQ(c.dtype(), dt);
    EXPECT_EQ(c.shape(), t.shape());
    c.set(0, 5.0);
    EXPECT_EQ(t.item(0), 1.0) << dtype_name(dt);
    t.set(3, 8.0);
    EXPECT_EQ(c.item(3), -2.0) << dtype_name(dt);
  }
}

TEST(Tensor, ToSameDTypeIsACopy) {
  Tensor t = Tensor::from<float>({1, 2}, Shape{2});
  Tensor u = t.to(DType::f32);
  EXPECT_FALSE(u.shares_storage_with(t));
  EXPECT_TRUE(u.equal(t));
}

TEST(Tensor, ToF64AndBackToF32) {
  Tensor t = Tensor::from<float>({0.1f, -3.5f, 1e-40f, std::numeric_limits<float>::infinity()}, Shape{2, 2});
  Tensor d = t.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.shape(), (Shape{2, 2}));
  // Widening is exact: the double holds exactly the float's value (0.1f is 13421773 * 2^-27).
  EXPECT_EQ(d.data<double>()[0], 13421773.0 * std::ldexp(1.0, -27));
  EXPECT_EQ(d.data<double>()[1], -3.5);
  EXPECT_EQ(d.data<double>()[2], double(1e-40f));
  EXPECT_TRUE(std::isinf(d.data<double>()[3]));
  EXPECT_TRUE(d.to(DType::f32).equal(t));

  Tensor wide = Tensor::from<double>({0.1, 1e300, -1e300, 1e-50, std::nan("")}, Shape{5});
  Tensor n = wide.to(DType::f32);
  EXPECT_EQ(n.data<float>()[0], 0.1f);
  EXPECT_EQ(n.data<float>()[1], std::numeric_limits<float>::infinity());  // overflow becomes Inf
  EXPECT_EQ(n.data<float>()[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(n.data<float>()[3], 0.0f);
  EXPECT_TRUE(std::isnan(n.data<float>()[4]));
}

TEST(Tensor, ToBF16RoundsToNearestEven) {
  const float one = 1.0f;
  Tensor t = Tensor::from<float>({one, -2.0f, one + std::ldexp(1.0f, -8), one + 3 * std::ldexp(1.0f, -8),
                                  one + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -16), 0.1f,
                                  std::numeric_limits<float>::max(), std::nanf("")},
                                 Shape{8});
  Tensor b = t.to(DType::bf16);
  EXPECT_EQ(b.dtype(), DType::bf16);
  std::vector<uint16_t> bits = bits_of<bf16>(b);
  EXPECT_EQ(bits[0], 0x3f80);
  EXPECT_EQ(bits[1], 0xc000);
  EXPECT_EQ(bits[2], 0x3f80);  // 1 + 2^-8: halfway between 1 and 1 + 2^-7, even is 1
  EXPECT_EQ(bits[3], 0x3f82);  // 1 + 3*2^-8: halfway between 1 + 2^-7 and 1 + 2^-6, even is up
  EXPECT_EQ(bits[4], 0x3f81);  // just above a tie
  EXPECT_EQ(bits[5], 0x3dcd);  // 0.1 = 1.6 * 2^-4; 1.6 * 128 = 204.8 -> 205 = 0x80 + 0x4d
  EXPECT_EQ(bits[6], 0x7f80);  // FLT_MAX is past the largest bf16 plus half an ulp: Inf
  EXPECT_TRUE((bits[7] & 0x7f80) == 0x7f80 && (bits[7] & 0x7f) != 0);  // NaN stays NaN
  EXPECT_EQ(b.item(5), 205.0 * std::ldexp(1.0, -11));
}

TEST(Tensor, ToF16SpecialValues) {
  Tensor t = Tensor::from<float>({1.0f, 65504.0f, 1e-7f, 70000.0f, -70000.0f, std::nanf(""), -0.0f, 0.1f,
                                  1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11)},
                                 Shape{10});
  Tensor h = t.to(DType::f16);
  std::vector<uint16_t> bits = bits_of<f16>(h);
  EXPECT_EQ(bits[0], 0x3c00);
  EXPECT_EQ(bits[1], 0x7bff);
  EXPECT_EQ(bits[2], 0x0002);  // subnormal: 1e-7 / 2^-24 = 1.68 -> 2
  EXPECT_LT(bits[2], 0x0400);
  EXPECT_EQ(bits[3], 0x7c00);  // overflow: Inf
  EXPECT_EQ(bits[4], 0xfc00);
  EXPECT_TRUE((bits[5] & 0x7c00) == 0x7c00 && (bits[5] & 0x3ff) != 0);
  EXPECT_EQ(bits[6], 0x8000);
  EXPECT_EQ(bits[7], 0x2e66);  // 0.1 = 1.6 * 2^-4; 0.6 * 1024 = 614.4 -> 614 = 0x266, exponent 11
  EXPECT_EQ(bits[8], 0x3c00);  // tie, to even
  EXPECT_EQ(bits[9], 0x3c02);  // tie, to even (up)
  EXPECT_EQ(h.item(7), 1638.0 * std::ldexp(1.0, -14));
  EXPECT_TRUE(std::isnan(h.item(5)));
}

TEST(Tensor, ToF16FromF64ForExactlyRepresentableValues) {
  Tensor d = Tensor::from<double>({1.0, 65504.0, std::ldexp(1.0, -24), -0.5, 1e6}, Shape{5});
  std::vector<uint16_t> bits = bits_of<f16>(d.to(DType::f16));
  EXPECT_EQ(bits, (std::vector<uint16_t>{0x3c00, 0x7bff, 0x0001, 0xb800, 0x7c00}));
  std::vector<uint16_t> bbits = bits_of<bf16>(d.to(DType::bf16));
  // 65504 = 0xffe0 = 1.9990234375 * 2^15 -> bf16 rounds 1.99902 to 2.0: 2^16 = 0x4780; 1e6 = 1.9073486 * 2^19,
  // 0.9073486 * 128 = 116.14 -> 116 = 0x74: 0x4974.
  EXPECT_EQ(bbits, (std::vector<uint16_t>{0x3f80, 0x4780, 0x3380, 0xbf00, 0x4974}));
}

// A double just above a tie of the 16-bit grid, by less than f32 can hold. Correct rounding goes up; converting
// through f32 first naively would make it an exact tie and then round to even (down). dtype.hpp: "Conversions round
// to nearest even".
TEST(Tensor, ToHalfFromF64RoundsOnceNotTwice) {
  const double above_f16_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  const double above_bf16_tie = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  Tensor d = Tensor::from<double>({above_f16_tie, above_bf16_tie}, Shape{2});
  EXPECT_EQ(bits_of<f16>(d.to(DType::f16))[0], 0x3c01);
  EXPECT_EQ(bits_of<bf16>(d.to(DType::bf16))[1], 0x3f81);
}

TEST(Tensor, ToFromHalfTypes) {
  Tensor b = from_bits<bf16>({0x3f80, 0xc000, 0x4780, 0x0001, 0x7f80});
  Tensor bf = b.to(DType::f32);
  EXPECT_EQ(bf.data<float>()[0], 1.0f);
  EXPECT_EQ(bf.data<float>()[1], -2.0f);
  EXPECT_EQ(bf.data<float>()[2], 65536.0f);
  EXPECT_EQ(bf.data<float>()[3], std::ldexp(1.0f, -133));  // smallest bf16 subnormal
  EXPECT_EQ(bf.data<float>()[4], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(b.to(DType::f64).to(DType::bf16).equal(b));

  Tensor h = from_bits<f16>({0x3c00, 0x7bff, 0x0001, 0xfc00, 0x3c01, 0x3c06});
  Tensor hd = h.to(DType::f64);
  EXPECT_EQ(hd.to_vector(), (std::vector<double>{1.0, 65504.0, std::ldexp(1.0, -24),
                                                 -std::numeric_limits<double>::infinity(),
                                                 1.0 + std::ldexp(1.0, -10), 1.0 + 6 * std::ldexp(1.0, -10)}));
  EXPECT_TRUE(hd.to(DType::f16).equal(h));

  // f16 -> bf16: 65504 becomes 65536 (see above); 2^-24 = 0x3380; 1 + 2^-10 is below half a bf16 ulp (2^-8)
  // so it becomes 1; 1 + 6*2^-10 is 2*2^-10 from 1 + 2^-7 and 6*2^-10 from 1, so 0x3f81.
  EXPECT_EQ(bits_of<bf16>(h.to(DType::bf16)),
            (std::vector<uint16_t>{0x3f80, 0x4780, 0x3380, 0xff80, 0x3f80, 0x3f81}));
  // bf16 -> f16: 65536 overflows f16; 2^-133 underflows to 0.
  EXPECT_EQ(bits_of<f16>(b.to(DType::f16)), (std::vector<uint16_t>{0x3c00, 0xc000, 0x7c00, 0x0000, 0x7c00}));
}

TEST(Tensor, ItemSetFillToVector) {
  Tensor t(Shape{2, 3}, DType::f64);
  for (int64_t i = 0; i < 6; ++i) t.set(i, double(i) * 0.5);
  EXPECT_EQ(t.to_vector(), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5}));
  EXPECT_EQ(t.item(3), 1.5);
  t.fill(-7.25);
  EXPECT_EQ(t.to_vector(), std::vector<double>(6, -7.25));

  // Through the storage type: set/fill round like the conversions.
  Tensor b(Shape{3}, DType::bf16);
  b.fill(0.1);
  for (double v : b.to_vector()) EXPECT_EQ(v, 205.0 * std::ldexp(1.0, -11));
  b.set(1, 3.0);
  EXPECT_EQ(b.data<bf16>()[1].bits, 0x4040);
  Tensor h(Shape{2}, DType::f16);
  h.set(0, 1e5);
  EXPECT_EQ(h.data<f16>()[0].bits, 0x7c00);
  h.set(1, 0.1);
  EXPECT_EQ(h.item(1), 1638.0 * std::ldexp(1.0, -14));
  Tensor f(Shape{1}, DType::f32);
  f.set(0, 0.1);
  EXPECT_EQ(f.item(0), double(0.1f));
}

TEST(Tensor, ItemAndSetCheckTheIndex) {
  Tensor t(Shape{2, 3});
  EXPECT_THROW_MSG(t.item(6), ShapeError, "index must be in [0, 6), got 6");
  EXPECT_THROW_MSG(t.item(-1), ShapeError, "index must be in [0, 6), got -1");
  EXPECT_THROW_MSG(t.set(6, 1.0), ShapeError, "index must be in [0, 6), got 6");
  EXPECT_THROW_MSG(t.set(-3, 1.0), ShapeError, "got -3");
}

TEST(Tensor, Equal) {
  Tensor a = Tensor::from<float>({1, 2, 3, 4}, Shape{2, 2});
  EXPECT_TRUE(a.equal(a));
  EXPECT_TRUE(a.equal(Tensor::from<float>({1, 2, 3, 4}, Shape{2, 2})));
  EXPECT_FALSE(a.equal(Tensor::from<float>({1, 2, 3, 5}, Shape{2, 2})));
  EXPECT_FALSE(a.equal(a.reshape(Shape{4})));                                     // shape differs
  EXPECT_FALSE(a.equal(Tensor::from<double>({1, 2, 3, 4}, Shape{2, 2})));          // dtype differs
  EXPECT_FALSE(Tensor::from<float>({0.0f}, Shape{1}).equal(Tensor::from<float>({-0.0f}, Shape{1})));  // bytewise
  Tensor nan = Tensor::from<float>({std::nanf("")}, Shape{1});
  EXPECT_TRUE(nan.equal(nan.clone()));  // bytewise: the same NaN bits are equal
}

TEST(Tensor, MaxScaledError) {
  Tensor a = Tensor::from<float>({1, 2, 3}, Shape{3});
  Tensor b = Tensor::from<double>({1, 2.5, 3}, Shape{3});
  EXPECT_EQ(max_scaled_error(a, a, 1e-3, 1e-3), 0.0);
  // |2 - 2.5| / (0.001 + 0.01 * 2.5) = 0.5 / 0.026
  EXPECT_NEAR(max_scaled_error(a, b, 0.01, 0.001), 0.5 / 0.026, 1e-12);
  // The scale uses |b|: swapping the arguments gives 0.5 / (0.001 + 0.01 * 2).
  EXPECT_NEAR(max_scaled_error(b, a, 0.01, 0.001), 0.5 / 0.021, 1e-12);
  EXPECT_NEAR(max_scaled_error(a, b, 0.0, 1.0), 0.5, 1e-15);

  Tensor n1 = Tensor::from<double>({1, std::nan("")}, Shape{2});
  Tensor n2 = Tensor::from<double>({1, std::nan("")}, Shape{2});
  Tensor n3 = Tensor::from<double>({1, 2}, Shape{2});
  EXPECT_EQ(max_scaled_error(n1, n2, 1e-5, 1e-5), 0.0);  // NaN where NaN is expected
  EXPECT_TRUE(std::isinf(max_scaled_error(n1, n3, 1e-5, 1e-5)));
  EXPECT_TRUE(std::isinf(max_scaled_error(n3, n1, 1e-5, 1e-5)));
  Tensor inf = Tensor::from<double>({1, INFINITY}, Shape{2});
  EXPECT_EQ(max_scaled_error(inf, inf, 1e-5, 1e-5), 0.0);
  EXPECT_TRUE(std::isinf(max_scaled_error(inf, n3, 1e-5, 1e-5)));

  EXPECT_THROW_MSG(max_scaled_error(a, Tensor(Shape{4}), 1e-5, 1e-5), ShapeError,
                   "shapes must match, got (3,) and (4,)");
  EXPECT_THROW_MSG(max_scaled_error(a, a.reshape(Shape{1, 3}), 1e-5, 1e-5), ShapeError, "(3,) and (1, 3)");
}

TEST(Tensor, ZeroSizeTensors) {
  for (DType dt : kAllDTypes) {
    Tensor t(Shape{0, 3}, dt);
    EXPECT_TRUE(t.defined());
    EXPECT_EQ(t.numel(), 0);
    EXPECT_EQ(t.nbytes(), 0u);
    EXPECT_EQ(address(t.raw()) % 64, 0u);
    EXPECT_TRUE(t.to_vector().empty());
    t.fill(1.0);  // nothing to fill
    EXPECT_THROW_MSG(t.item(0), ShapeError, "index must be in [0, 0), got 0");
    EXPECT_EQ(t.reshape(Shape{-1, 3}).shape(), (Shape{0, 3}));
    EXPECT_EQ(t.reshape(Shape{3, -1}).shape(), (Shape{3, 0}));
    EXPECT_EQ(t.reshape(Shape{-1}).shape(), (Shape{0}));
    EXPECT_EQ(t.reshape(Shape{5, 0, 2}).shape(), (Shape{5, 0, 2}));
    EXPECT_THROW_MSG(t.reshape(Shape{0, -1}), ShapeError, "cannot infer -1 from 0 elements");
    EXPECT_EQ(t.flatten().shape(), (Shape{0, 3}));
    EXPECT_EQ(t.flatten(0).shape(), (Shape{0}));
    Tensor c = t.clone();
    EXPECT_TRUE(c.equal(t));
    EXPECT_FALSE(c.shares_storage_with(t));
    for (DType to : kAllDTypes) {
      Tensor u = t.to(to);
      EXPECT_EQ(u.shape(), (Shape{0, 3}));
      EXPECT_EQ(u.dtype(), to);
    }
    EXPECT_EQ(max_scaled_error(t, Tensor(Shape{0, 3}), 1e-5, 1e-5), 0.0);
  }
  Tensor e = Tensor::from<float>({}, Shape{0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_THROW_MSG(Tensor::from<float>({1.0f}, Shape{0, 3}), ShapeError, "must be 0, got 1");
}

// Tensor::borrow (the Python module's zero-copy input): the view aliases the owner's memory and keeps it alive.
TEST(Tensor, BorrowAliasesAlignedMemoryAndKeepsTheOwnerAlive) {
  auto owner = std::shared_ptr<float[]>(static_cast<float*>(std::aligned_alloc(64, 64 * sizeof(float))), std::free);
  for (int i = 0; i < 6; ++i) owner[i] = float(i);
  std::weak_ptr<float[]> watch = owner;
  Tensor t = Tensor::borrow(owner.get(), owner, Shape{2, 3}, DType::f32);
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.item(5), 5.0);
  t.set(0, 7.0);
  EXPECT_EQ(watch.lock()[0], 7.0f);
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

// Element alignment is enough (NumPy gives 16 bytes, often less than kAlignment); less than that is refused.
TEST(Tensor, BorrowRejectsMisalignedMemory) {
  auto owner = std::shared_ptr<float[]>(static_cast<float*>(std::aligned_alloc(64, 64 * sizeof(float))), std::free);
  EXPECT_EQ(Tensor::borrow(owner.get() + 1, owner, Shape{3}, DType::f32).raw(), owner.get() + 1);
  EXPECT_THROW_MSG(Tensor::borrow(reinterpret_cast<std::byte*>(owner.get()) + 1, owner, Shape{3}, DType::f32), ShapeError,
                   "Tensor::borrow: the data address must be 4-byte aligned (the element size), got ");
}
