// Element types. f32 and f64 are computed natively; bf16 and f16 are storage types converted to f32 for
// arithmetic. Conversions round to nearest even; NaN stays NaN and overflow becomes Inf.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace locnet {

enum class DType : uint8_t { f32, f64, bf16, f16 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "f64", "bf16", "f16"
DType dtype_from_name(std::string_view name);  // accepts the names above and "float32", "float64", ...; ConfigError

struct bf16 {
  uint16_t bits = 0;
};
struct f16 {
  uint16_t bits = 0;
};

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float to_float(bf16 v) { return bits_to_float(uint32_t(v.bits) << 16); }
inline bf16 to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{uint16_t((u >> 16) | 0x40)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{uint16_t(u >> 16)};
}

float to_float(f16 v);
f16 to_f16(float f);

template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct dtype_of<bf16> {
  static constexpr DType value = DType::bf16;
};
template <>
struct dtype_of<f16> {
  static constexpr DType value = DType::f16;
};
template <class T>
inline constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace locnet
