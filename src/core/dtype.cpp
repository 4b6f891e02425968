#include "locnet/core/dtype.hpp"

#include <cmath>

#include "locnet/core/error.hpp"

namespace locnet {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16:
    case DType::f16: return 2;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

void raise_not_float(DType t, std::string_view where) {
  if (where.empty()) raise<NotSupported>("dtype must be f32 or f64, got {}", dtype_name(t));
  raise<NotSupported>("{}: dtype must be f32 or f64, got {}", where, dtype_name(t));
}

DType dtype_from_name(std::string_view n) {
  if (n == "f32" || n == "float32" || n == "float") return DType::f32;
  if (n == "f64" || n == "float64" || n == "double") return DType::f64;
  if (n == "bf16" || n == "bfloat16") return DType::bf16;
  if (n == "f16" || n == "float16" || n == "half") return DType::f16;
  raise<ConfigError>("dtype must be one of f32, f64, bf16, f16, got '{}'", n);
}

// IEEE binary16 <-> binary32, round to nearest even, subnormals handled.
float to_float(f16 v) {
  uint32_t sign = uint32_t(v.bits & 0x8000u) << 16;
  uint32_t exp = (v.bits >> 10) & 0x1fu;
  uint32_t man = v.bits & 0x3ffu;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    float f = std::ldexp(float(man), -24);
    return sign ? -f : f;
  }
  return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

f16 to_f16(float f) {
  uint32_t u = float_to_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return f16{uint16_t(sign | 0x7e00u)};
  if (a >= 0x477ff000u) return f16{uint16_t(sign | 0x7c00u)};  // rounds to >= 65520: Inf
  if (a < 0x38800000u) {                                          // below the smallest normal: subnormal or 0
    float m = bits_to_float(a) * 16777216.0f;                     // in units of 2^-24, exact
    return f16{uint16_t(sign | uint16_t(std::nearbyint(m)))};
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return f16{uint16_t(sign | (r >> 13))};
}

}  // namespace locnet
