// Element types. f32 and f64 are computed natively; bf16 and f16 are storage types converted to f32 for
// arithmetic. Conversions round to nearest even; NaN stays NaN and overflow becomes Inf.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace locnet {

enum class DType : uint8_t { f32, f64, bf16, f16 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "f64", "bf16", "f16"
DType dtype_from_name(std::string_view name);  // accepts the names above and "float32", "float64", ...; ConfigError
// The dtype arithmetic runs in: f64 stays f64; f32, bf16 and f16 compute in f32.
inline DType compute_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

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

// dtype_v<T>: the DType of element type T (float, double, bf16 or f16; any other T does not compile).
constexpr DType dtype_of(float) { return DType::f32; }
constexpr DType dtype_of(double) { return DType::f64; }
constexpr DType dtype_of(bf16) { return DType::bf16; }
constexpr DType dtype_of(f16) { return DType::f16; }
template <class T>
inline constexpr DType dtype_v = dtype_of(T{});

// Raises NotSupported "<where>: dtype must be f32 or f64, got <t>" (no "<where>: " when where is empty).
[[noreturn]] void raise_not_float(DType t, std::string_view where = {});

// The one dtype dispatcher. visit_dtype(t, f) calls f(T{}) with T the element type of t (float, double, bf16
// or f16, so dtype_v<T> == t) and returns its result; every f(T{}) must return the same type.
// visit_float(t, [where,] f) does the same for the computed dtypes f32 and f64 only, instantiating f for float
// and double alone, and raises NotSupported (raise_not_float) for the storage-only bf16 and f16.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::bf16: return f(bf16{});
    case DType::f16: return f(f16{});
  }
  raise_not_float(t);  // not a DType value
}

template <class F>
decltype(auto) visit_float(DType t, std::string_view where, F&& f) {
  return visit_dtype(t, [&](auto v) -> decltype(f(float{})) {
    if constexpr (std::is_floating_point_v<decltype(v)>)
      return f(v);
    else
      raise_not_float(t, where);
  });
}
template <class F>
decltype(auto) visit_float(DType t, F&& f) {
  return visit_float(t, {}, std::forward<F>(f));
}

}  // namespace locnet
