// dtype.hpp: sizes, names, the dtype visitors and the bf16/f16 conversions. Conversions are checked exhaustively
// (every 16-bit pattern) and against a reference written here a different way: plain double arithmetic
// (frexp/ldexp) and an explicit round-to-nearest-even over the target grid, not bit tricks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "expect_error.hpp"
#include "locnet/core/dtype.hpp"
#include "locnet/core/error.hpp"

using namespace locnet;

namespace {

// Round a non-negative double that holds an integer plus a fraction to the nearest integer, ties to even.
double round_half_even(double q) {
  double n = std::floor(q);
  double r = q - n;  // exact: q has few significant bits
  if (r > 0.5) return n + 1;
  if (r < 0.5) return n;
  return std::fmod(n, 2.0) == 0.0 ? n : n + 1;
}

// A binary floating-point format with `man_bits` stored mantissa bits and minimum normal exponent `emin`
// (the format has 1 + exp_bits + man_bits bits). Returns the bit pattern nearest to the finite float x.
uint16_t reference_encode(float x, int man_bits, int emin, uint16_t inf_bits) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(double(x));
  if (a == 0.0) return sign;
  int e2 = 0;
  std::frexp(a, &e2);        // a = f * 2^e2 with f in [0.5, 1)
  int e = std::max(e2 - 1, emin);  // floor(log2 a), clamped to the subnormal range
  const double q = std::ldexp(a, man_bits - e);  // a in units of the grid spacing at exponent e (exact)
  const double m = round_half_even(q);           // in [0, 2^(man_bits+1)]
  // (e - emin) binades above the first, each 2^man_bits patterns wide, plus m; a carry to m = 2^(man_bits+1)
  // lands on the next binade's first pattern, and m = 2^man_bits at e = emin is the smallest normal.
  const double bits = double(e - emin) * std::ldexp(1.0, man_bits) + m;
  if (bits >= double(inf_bits)) return uint16_t(sign | inf_bits);
  return uint16_t(sign | uint16_t(bits));
}
uint16_t reference_f16(float x) { return reference_encode(x, 10, -14, 0x7c00); }
uint16_t reference_bf16(float x) { return reference_encode(x, 7, -126, 0x7f80); }

// Value of a pattern from the IEEE definition.
double reference_decode(uint16_t h, int exp_bits, int man_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int exp = (h >> man_bits) & ((1 << exp_bits) - 1);
  const int man = h & ((1 << man_bits) - 1);
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == (1 << exp_bits) - 1)
    return man == 0 ? s * std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (exp == 0) return s * std::ldexp(double(man), 1 - bias - man_bits);
  return s * std::ldexp(double((1 << man_bits) + man), exp - bias - man_bits);
}

bool is_nan_f16(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }
bool is_nan_bf16(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0; }

}  // namespace

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(sizeof(bf16), 2u);
  EXPECT_EQ(sizeof(f16), 2u);
  EXPECT_EQ(dtype_name(DType::f32), "f32");
  EXPECT_EQ(dtype_name(DType::f64), "f64");
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dtype_name(DType::f16), "f16");
  EXPECT_EQ(dtype_v<float>, DType::f32);
  EXPECT_EQ(dtype_v<double>, DType::f64);
  EXPECT_EQ(dtype_v<bf16>, DType::bf16);
  EXPECT_EQ(dtype_v<f16>, DType::f16);
}

TEST(DType, FromNameAcceptsNamesAndAliases) {
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::f16}) EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_EQ(dtype_from_name("float32"), DType::f32);
  EXPECT_EQ(dtype_from_name("float"), DType::f32);
  EXPECT_EQ(dtype_from_name("float64"), DType::f64);
  EXPECT_EQ(dtype_from_name("double"), DType::f64);
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::bf16);
  EXPECT_EQ(dtype_from_name("float16"), DType::f16);
  EXPECT_EQ(dtype_from_name("half"), DType::f16);
}

TEST(DType, FromNameRejectsUnknownWithConfigError) {
  EXPECT_THROW_MSG(dtype_from_name("int8"), ConfigError, "dtype must be one of f32, f64, bf16, f16, got 'int8'");
  EXPECT_THROW_MSG(dtype_from_name(""), ConfigError, "got ''");
  EXPECT_THROW_MSG(dtype_from_name("F32"), ConfigError, "got 'F32'");  // names are case-sensitive
}

TEST(DType, ReferenceItselfMatchesKnownEncodings) {
  // Hand-derived values (IEEE 754 binary16 and bfloat16 tables), checked here so the reference is trusted.
  EXPECT_EQ(reference_f16(1.0f), 0x3c00);
  EXPECT_EQ(reference_f16(-2.0f), 0xc000);
  EXPECT_EQ(reference_f16(65504.0f), 0x7bff);
  EXPECT_EQ(reference_f16(65520.0f), 0x7c00);
  EXPECT_EQ(reference_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(reference_f16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(reference_f16(0.1f), 0x2e66);
  EXPECT_EQ(reference_bf16(1.0f), 0x3f80);
  EXPECT_EQ(reference_bf16(-2.0f), 0xc000);
  EXPECT_EQ(reference_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(reference_decode(0x7bff, 5, 10), 65504.0);
  EXPECT_EQ(reference_decode(0x0001, 5, 10), std::ldexp(1.0, -24));
  EXPECT_EQ(reference_decode(0x3f80, 8, 7), 1.0);
}

TEST(DType, F16DecodeMatchesDefinitionForEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    const float f = to_float(f16{h});
    if (is_nan_f16(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(double(f), reference_decode(h, 5, 10)) << std::hex << b;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << b;  // -0.0 keeps its sign
  }
}

TEST(DType, BF16DecodeMatchesDefinitionForEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    const float f = to_float(bf16{h});
    if (is_nan_bf16(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(double(f), reference_decode(h, 8, 7)) << std::hex << b;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << b;
  }
}

TEST(DType, F16RoundTripEveryNonNaNPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    if (is_nan_f16(h)) continue;
    ASSERT_EQ(to_f16(to_float(f16{h})).bits, h) << std::hex << b;
  }
}

TEST(DType, BF16RoundTripEveryNonNaNPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    if (is_nan_bf16(h)) continue;
    ASSERT_EQ(to_bf16(to_float(bf16{h})).bits, h) << std::hex << b;
  }
}

TEST(DType, NaNStaysNaN) {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  // A signalling NaN whose payload is only in the low mantissa bits: plain truncation would turn it into Inf.
  const float low_payload = bits_to_float(0x7f800001u);
  const float neg_low_payload = bits_to_float(0xff800001u);
  for (float x : {qnan, -qnan, low_payload, neg_low_payload}) {
    ASSERT_TRUE(std::isnan(x));
    EXPECT_TRUE(is_nan_f16(to_f16(x).bits)) << std::hex << float_to_bits(x);
    EXPECT_TRUE(is_nan_bf16(to_bf16(x).bits)) << std::hex << float_to_bits(x);
    EXPECT_TRUE(std::isnan(to_float(to_f16(x))));
    EXPECT_TRUE(std::isnan(to_float(to_bf16(x))));
  }
}

TEST(DType, F16SpecialValues) {
  EXPECT_EQ(to_f16(1.0f).bits, 0x3c00);
  EXPECT_EQ(to_f16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(to_f16(65519.0f).bits, 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(to_f16(65520.0f).bits, 0x7c00);  // the halfway point: ties to even, and even is Inf
  EXPECT_EQ(to_f16(70000.0f).bits, 0x7c00);
  EXPECT_EQ(to_f16(-70000.0f).bits, 0xfc00);
  EXPECT_EQ(to_f16(std::numeric_limits<float>::infinity()).bits, 0x7c00);
  EXPECT_EQ(to_f16(-std::numeric_limits<float>::infinity()).bits, 0xfc00);
  EXPECT_EQ(to_f16(-0.0f).bits, 0x8000);
  EXPECT_EQ(to_f16(1e-7f).bits, 0x0002);  // 1e-7 / 2^-24 = 1.68 -> 2 units of the smallest subnormal
  EXPECT_EQ(to_f16(std::ldexp(1.0f, -25)).bits, 0x0000);      // half the smallest subnormal: tie to 0
  EXPECT_EQ(to_f16(3 * std::ldexp(1.0f, -25)).bits, 0x0002);  // 1.5 units: tie to 2
  EXPECT_EQ(to_f16(std::ldexp(1.0f, -30)).bits, 0x0000);
  EXPECT_EQ(to_f16(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);      // tie between 0x3c00 and 0x3c01
  EXPECT_EQ(to_f16(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);  // tie between 0x3c01 and 0x3c02
  // Largest subnormal rounding up into the smallest normal.
  EXPECT_EQ(to_f16(std::ldexp(1023.75f, -24)).bits, 0x0400);
}

TEST(DType, BF16SpecialValues) {
  EXPECT_EQ(to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_bf16(-2.0f).bits, 0xc000);
  EXPECT_EQ(to_bf16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);      // tie: stays at even 1.0
  EXPECT_EQ(to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);  // tie: rounds up to even
  EXPECT_EQ(to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)).bits, 0x3f81);  // just above a tie
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()).bits, 0x7f80);  // rounds past the largest bf16: Inf
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
  EXPECT_EQ(to_bf16(-0.0f).bits, 0x8000);
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::denorm_min()).bits, 0x0000);
}

TEST(DType, ConversionsMatchReferenceOnRandomFloats) {
  std::mt19937_64 gen(12345);
  std::uniform_int_distribution<int> exp_dist(-30, 16);  // f16 underflow to overflow, subnormals included
  std::uniform_int_distribution<uint32_t> man_dist(0, (1u << 23) - 1);
  std::uniform_int_distribution<uint32_t> bits_dist(0, 0xffffffffu);
  int checked = 0;
  for (int i = 0; i < 4000; ++i) {
    const float m = 1.0f + std::ldexp(float(man_dist(gen)), -23);
    float x = std::ldexp(m, exp_dist(gen));
    if (gen() & 1) x = -x;
    ASSERT_EQ(to_f16(x).bits, reference_f16(x)) << "x = " << x << " bits " << std::hex << float_to_bits(x);
    ASSERT_EQ(to_bf16(x).bits, reference_bf16(x)) << "x = " << x;
    // Any finite float at all, for bf16 (whose range is f32's, with f32 subnormals).
    const float y = bits_to_float(bits_dist(gen));
    if (std::isfinite(y)) {
      ASSERT_EQ(to_bf16(y).bits, reference_bf16(y)) << "y bits " << std::hex << float_to_bits(y);
      ASSERT_EQ(to_f16(y).bits, reference_f16(y)) << "y bits " << std::hex << float_to_bits(y);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4000);
}

TEST(DType, F16TiesAndNeighboursOfTiesMatchReference) {
  // Exact midpoints between adjacent f16 values (representable in f32) and one f32 ulp either side.
  std::mt19937_64 gen(777);
  std::uniform_int_distribution<uint32_t> pat(0, 0x7bfe);  // finite, non-negative, with a finite successor
  for (int i = 0; i < 3000; ++i) {
    const uint16_t h = uint16_t(pat(gen));
    const double lo = reference_decode(h, 5, 10), hi = reference_decode(uint16_t(h + 1), 5, 10);
    const float mid = float((lo + hi) / 2);
    ASSERT_EQ(double(mid), (lo + hi) / 2);
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      ASSERT_EQ(to_f16(x).bits, reference_f16(x)) << "x bits " << std::hex << float_to_bits(x);
      ASSERT_EQ(to_f16(-x).bits, reference_f16(-x)) << "x bits " << std::hex << float_to_bits(-x);
    }
    // The tie goes to the even neighbour.
    ASSERT_EQ(to_f16(mid).bits, (h % 2 == 0) ? h : uint16_t(h + 1));
  }
}

TEST(DType, BF16TiesAndNeighboursOfTiesMatchReference) {
  std::mt19937_64 gen(778);
  std::uniform_int_distribution<uint32_t> pat(0, 0x7f7e);
  for (int i = 0; i < 3000; ++i) {
    const uint16_t h = uint16_t(pat(gen));
    const double lo = reference_decode(h, 8, 7), hi = reference_decode(uint16_t(h + 1), 8, 7);
    const float mid = float((lo + hi) / 2);
    ASSERT_EQ(double(mid), (lo + hi) / 2);
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
      ASSERT_EQ(to_bf16(x).bits, reference_bf16(x)) << "x bits " << std::hex << float_to_bits(x);
      ASSERT_EQ(to_bf16(-x).bits, reference_bf16(-x)) << "x bits " << std::hex << float_to_bits(-x);
    }
    ASSERT_EQ(to_bf16(mid).bits, (h % 2 == 0) ? h : uint16_t(h + 1));
  }
}

namespace {
template <class T>
std::string element_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, double>) return "double";
  else if constexpr (std::is_same_v<T, bf16>) return "bf16";
  else if constexpr (std::is_same_v<T, f16>) return "f16";
  else return "other";
}
}  // namespace

TEST(DTypeVisit, VisitDtypeHandsEachDTypeItsElementType) {
  const std::pair<DType, std::string> want[] = {
      {DType::f32, "float"}, {DType::f64, "double"}, {DType::bf16, "bf16"}, {DType::f16, "f16"}};
  for (const auto& [t, name] : want) {
    EXPECT_EQ(visit_dtype(t, [](auto v) { return element_name<decltype(v)>(); }), name) << dtype_name(t);
    EXPECT_EQ(visit_dtype(t, [](auto v) { return dtype_v<decltype(v)>; }), t) << dtype_name(t);
    EXPECT_EQ(visit_dtype(t, [](auto v) { return sizeof(v); }), dtype_size(t)) << dtype_name(t);
  }
}

TEST(DTypeVisit, VisitFloatRunsFloatAndDoubleAndRejectsStorageDtypes) {
  EXPECT_EQ(visit_float(DType::f32, [](auto v) { return element_name<decltype(v)>(); }), "float");
  EXPECT_EQ(visit_float(DType::f64, "where", [](auto v) { return element_name<decltype(v)>(); }), "double");
  int calls = 0;
  auto count = [&](auto) { ++calls; };
  EXPECT_THROW_MSG(visit_float(DType::bf16, count), NotSupported, "dtype must be f32 or f64, got bf16");
  EXPECT_THROW_MSG(visit_float(DType::f16, "activation", count), NotSupported,
                   "activation: dtype must be f32 or f64, got f16");
  EXPECT_EQ(calls, 0);
}

TEST(DTypeVisit, ComputeDtypeKeepsF64AndComputesTheRestInF32) {
  EXPECT_EQ(compute_dtype(DType::f64), DType::f64);
  for (DType t : {DType::f32, DType::bf16, DType::f16}) EXPECT_EQ(compute_dtype(t), DType::f32) << dtype_name(t);
}
