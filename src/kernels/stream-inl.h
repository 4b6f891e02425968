// Streaming (non-temporal) stores for the Highway kernels of LRN and BatchNorm; when an output is large enough to
// stream is src/kernels/stream.hpp's choice. Included once per target, after hwy/foreach_target.h, as Highway's
// own -inl.h files are: the toggle below lets each target's pass include it again.
#include <cstdint>
#include <type_traits>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/stream.hpp"

#if defined(LOCNET_KERNELS_STREAM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOCNET_KERNELS_STREAM_INL_H_
#undef LOCNET_KERNELS_STREAM_INL_H_
#else
#define LOCNET_KERNELS_STREAM_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A store of a full vector, streaming (NT: non-temporal, `p` aligned to the vector's size) or ordinary. Partial
// vectors (four bf16 lanes under SSE4) always store normally: x86's narrowest streaming store writes 16 bytes.
template <bool NT, class D>
HWY_INLINE void StoreOrStream(hn::Vec<D> v, D d, hn::TFromD<D>* p) {
  if constexpr (NT && hn::MaxLanes(D()) * sizeof(hn::TFromD<D>) >= 16) {
    hn::Stream(v, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

// Elements before the first address where a vector of Lanes(d) values of T can be streamed.
template <class D, class T>
HWY_INLINE int64_t StreamHead(D d, const T* p) {
  const uintptr_t bytes = hn::Lanes(d) * sizeof(T);
  return int64_t((bytes - reinterpret_cast<uintptr_t>(p) % bytes) % bytes / sizeof(T));
}

// Streaming stores for an output y of `elems` elements: when it is large and every vector store is aligned, which
// holds when y is aligned and runs of `run` elements are whole vectors (for kernels that store whole vectors from
// the start of each run). Skipping the read for ownership saves a third of the traffic of y = f(x).
template <class T>
bool StreamOut(int64_t elems, int64_t run, const T* y) {
  const size_t L = hn::Lanes(hn::ScalableTag<T>());
  return stream_output(elems * int64_t(sizeof(T))) && run % int64_t(L) == 0 &&
         reinterpret_cast<uintptr_t>(y) % (L * sizeof(T)) == 0;
}

// f(std::bool_constant<stream>), then the fence that orders the streaming stores: call it on the thread that
// stores.
template <class F>
void WithStream(bool stream, F&& f) {
  if (!stream) return f(std::false_type());
  f(std::true_type());
  hwy::FlushStream();
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LOCNET_KERNELS_STREAM_INL_H_
