// Locally connected through CBLAS (OpenBLAS): a batched GEMM over output positions,
//   Y[:, p, :] (N x F) = Xpatch[:, p, :] (N x K) @ W[p] (K x F),
// OpenMP over positions with BLAS single-threaded inside, never an im2col of the whole batch.
//
// channels_first runs the same algorithm on x transposed per sample to (h, w, c), with W[p]'s rows permuted
// into channels_last patch order per position (row copies); outputs are computed for blocks of 16 positions
// into a per-thread buffer and transposed into y (the bias, f*P + p, added inside the product); backward
// transposes dy into one output-sized buffer and computes dx in (h, w, c) before transposing it back.
// Reading the patch of position p (channels_last):
//   direct  (runs of >= kMinDirectRun elements): row tap_r of the window is one contiguous run
//           of (valid tap_c) * C values per sample (dilation_w = 1; C values per tap when dilated), H*W*C apart
//           between samples, so A_{p,tap_r} is an N x run matrix read in place with lda = H*W*C, and
//           Y_p = sum_tap_r A_{p,tap_r} W[p][rows of tap_r] is kh GEMMs (beta = 1) writing straight into y
//           (ldc = P*F). Taps outside the input are simply left out of the runs.
//   gather  (short runs where BLAS would run at tiny k): the position's patch for every sample is copied into a
//           per-thread N x K buffer (zeros for taps outside), then one GEMM.
//           "hwy" instead reads such patches in place through a table with one entry per valid tap (forward;
//           backward's dW when every tap is inside the input), where the copy cost as much as the product.
// Backward, per position: db += column sums of dY_p; dW[p] += Xp^T dY_p; dXp = dY_p W[p]^T added into dx
// (direct: straight into dx with beta = 1; gather: into a per-thread buffer, then scattered). Windows of
// neighbouring positions overlap in dx; positions G = ceil(dilated kernel extent / stride) or more rows apart
// never touch the same dx element, so threads take blocks of >= G output rows (columns for one-row outputs), the
// even blocks at once, then the odd ones, with no atomics and no per-thread copies of dx; each block runs in
// raster order, where neighbouring windows share x and dx in cache and dY_p, dY_{p+1} are adjacent.
// Batch 1 turns the GEMMs into GEMV/GER (OpenBLAS 0.3.21's gemm packs all of W[p] even for one row, which
// would double the weight traffic that bounds batch-1 inference).
//
// Two kernels share this algorithm and differ only in the per-position GEMM: "blas" (f32, f64) calls CBLAS;
// "hwy" (f32) calls the Highway register-tiled GEMM of gemm.hpp, which costs nothing per call and reads the
// patches in place, where BLAS spends most of the time of these small products packing and dispatching
// (measured in src/kernels/locally_connected/README.md). "hwy" computes dx = dY_p W[p]^T from a per-thread
// transposed copy of W[p] (F x K; batch 1 uses BLAS's GEMV instead), adds the bias inside its first product,
// and pads the gathered patch rows to kLcGemmPad so that no column is computed one by one.
#include <memory>
#include <vector>

#include "kernels/blas.hpp"
#include "kernels/locally_connected/gemm.hpp"
#include "kernels/locally_connected/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {

// Shorter runs are gathered: one GEMM at k = K beats kh GEMMs at a tiny k (measured: C = 3, kw = 3).
constexpr int64_t kMinDirectRun = 32;

// C (m x n) = beta C + op(A) (m x k) op(B) (k x n), row-major; m == 1 -> gemv, k == 1 with beta == 1 -> ger.
template <class T>
void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
        T* c, int64_t ldc) {
  constexpr bool f32 = std::is_same_v<T, float>;
  auto bi = [](int64_t v) { return blasint(v); };
  if (m == 1) {
    // c[0, :] = beta c + op(B)^T a[0, :]
    int64_t inca = ta ? lda : 1;
    CBLAS_TRANSPOSE t = tb ? CblasNoTrans : CblasTrans;
    int64_t rows = tb ? n : k, cols = tb ? k : n;
    if constexpr (f32)
      cblas_sgemv(CblasRowMajor, t, bi(rows), bi(cols), 1.0f, b, bi(ldb), a, bi(inca), beta, c, 1);
    else
      cblas_dgemv(CblasRowMajor, t, bi(rows), bi(cols), 1.0, b, bi(ldb), a, bi(inca), beta, c, 1);
    return;
  }
  if (k == 1 && beta == T(1)) {
    int64_t incu = ta ? 1 : lda, incv = tb ? ldb : 1;
    if constexpr (f32)
      cblas_sger(CblasRowMajor, bi(m), bi(n), 1.0f, a, bi(incu), b, bi(incv), c, bi(ldc));
    else
      cblas_dger(CblasRowMajor, bi(m), bi(n), 1.0, a, bi(incu), b, bi(incv), c, bi(ldc));
    return;
  }
  gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
std::unique_ptr<T[]> buffer(int64_t count) {
  return std::unique_ptr<T[]>(new T[size_t(count)]);
}

// dst (cols x rows, rows ldd apart) = src (rows x cols, rows lds apart)^T.
template <class T>
void transpose_rows(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd) {
  if constexpr (std::is_same_v<T, float>)
    lc_transpose(rows, cols, src, lds, dst, ldd);
  else
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

// dst (Cc x R) = src (R x Cc)^T for each of n samples.
template <class T>
void transpose(const T* src, T* dst, int64_t n, int64_t R, int64_t Cc) {
  parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) transpose_rows<T>(R, Cc, src + s * R * Cc, Cc, dst + s * R * Cc, R);
  });
}

template <class T, bool kHwy>
struct Lc {
  static_assert(!kHwy || std::is_same_v<T, float>);
  const LcProblem& p;
  const int64_t P = p.positions(), K = p.patch(), F = p.f, N = p.n, in = p.in_sample();
  // Direct reads need channels_last and runs long enough for BLAS (see kMinDirectRun).
  const bool direct = p.channels_last && (p.dilation_w == 1 ? p.kw * p.c : p.c) >= kMinDirectRun;
  // Leading dimension of the per-thread patch buffers (N x kd) and of the transposed W[p] (F x kd).
  const int64_t kd = kHwy ? (K + kLcGemmPad - 1) / kLcGemmPad * kLcGemmPad : K;
  // channels_first runs on a channels_last copy of x (see forward_t): perm[q] is the kernel row, in the
  // layer's (c, tap_r, tap_c) order, of channels_last patch element q; the bias is indexed f * P + pos.
  const int64_t* perm = nullptr;
  bool bias_fp = false;

  // W[p] with its rows in channels_last patch order: wt itself, or its rows permuted into wbuf (K x F).
  const T* weights(int64_t pos, const T* wt, T* wbuf) const {
    const T* wp = wt + pos * K * F;
    if (!perm) return wp;
    for (int64_t q = 0; q < K; ++q) std::copy(wp + perm[q] * F, wp + perm[q] * F + F, wbuf + q * F);
    return wbuf;
  }

  // C (m x n) = beta C + op(A) B, row-major; op(A) = A (m x k, lda) or, with ta, A^T for A (k x m, lda).
  // bias (hwy only): a row added to every row of C.
  static void gemm(bool ta, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                   T beta, T* c, int64_t ldc, bool padded = false, const T* bias = nullptr) {
    if constexpr (kHwy)
      lc_sgemm(m, n, k, a, ta ? 1 : lda, ta ? lda : 1, b, ldb, bias, beta != T(0), c, ldc, padded);
    else
      mm<T>(ta, false, m, n, k, a, lda, b, ldb, beta, c, ldc);
  }

  struct Window {
    int64_t oy, ox, y0, y1, x0, x1;
  };
  Window window(int64_t pos) const {
    Window w{pos / p.ow, pos % p.ow, 0, 0, 0, 0};
    p.row_taps(w.oy, w.y0, w.y1);
    p.col_taps(w.ox, w.x0, w.x1);
    return w;
  }

  // Calls fn(input offset within a sample, patch row q, run length) for each contiguous run of valid taps
  // (channels_last): one per kernel row when dilation_w == 1, one per tap otherwise.
  template <class Fn>
  void runs(const Window& w, Fn&& fn) const {
    if (w.x1 <= w.x0) return;
    for (int64_t tap_r = w.y0; tap_r < w.y1; ++tap_r) {
      int64_t iy = p.in_row(w.oy, tap_r);
      if (p.dilation_w == 1) {
        int64_t ix = p.in_col(w.ox, w.x0);  // dilation_w = 1
        fn((iy * p.w + ix) * p.c, (tap_r * p.kw + w.x0) * p.c, (w.x1 - w.x0) * p.c);
      } else {
        for (int64_t tap_c = w.x0; tap_c < w.x1; ++tap_c)
          fn((iy * p.w + p.in_col(w.ox, tap_c)) * p.c, (tap_r * p.kw + tap_c) * p.c, p.c);
      }
    }
  }

  // buf (N x K, rows kd apart) = the patch of every sample, zeros for taps outside the input.
  void gather(const Window& w, const T* x, T* buf) const {
    for (int64_t s = 0; s < N; ++s) {
      const T* xs = x + s * in;
      T* row = buf + s * kd;
      if (K != full_runs(w)) std::fill(row, row + K, T(0));
      // a plain loop: the runs are short here (< kMinDirectRun), where a memmove call costs more than the copy
      runs(w, [&](int64_t i, int64_t q, int64_t len) {
        for (int64_t e = 0; e < len; ++e) row[q + e] = xs[i + e];
      });
    }
  }

  // dx += the patch gradient buf (N x K, rows kd apart), valid taps only.
  void scatter_add(const Window& w, const T* buf, T* dx) const {
    if constexpr (kHwy) {
      runs(w, [&](int64_t i, int64_t q, int64_t len) { lc_add_rows(N, len, buf + q, kd, dx + i, in); });
      return;
    }
    for (int64_t s = 0; s < N; ++s) {
      T* xs = dx + s * in;
      const T* row = buf + s * kd;
      runs(w, [&](int64_t i, int64_t q, int64_t len) {
        for (int64_t e = 0; e < len; ++e) xs[i + e] += row[q + e];
      });
    }
  }

  // The number of patch elements inside the input.
  int64_t full_runs(const Window& w) const { return (w.y1 - w.y0) * std::max<int64_t>(w.x1 - w.x0, 0) * p.c; }

  // c: the position's N x F outputs, rows ldc apart. wbuf: K x F when perm is set; brow: F values when bias_fp;
  // kidx (hwy): 2 K entries.
  void forward_position(int64_t pos, const T* x, const T* wt, const T* b, T* c, int64_t ldc, T* buf, T* wbuf,
                        T* brow, int64_t* kidx) const {
    const T* wp = weights(pos, wt, wbuf);
    T beta = 0;
    // hwy fuses the bias row into its first product; BLAS gets it copied into C first.
    const T* bias = p.has_bias ? b + pos * F : nullptr;
    if (p.has_bias && bias_fp) {
      for (int64_t f = 0; f < F; ++f) brow[f] = b[f * P + pos];
      bias = brow;
    }
    if (bias && !kHwy) {
      for (int64_t s = 0; s < N; ++s) std::copy(bias, bias + F, c + s * ldc);
      beta = 1;
      bias = nullptr;
    }
    Window w = window(pos);
    if (direct) {
      runs(w, [&](int64_t i, int64_t q, int64_t len) {
        gemm(false, N, F, len, x + i, in, wp + q * F, F, beta, c, ldc, false, bias);
        beta = 1;
        bias = nullptr;
      });
      if (beta == T(0))  // no tap inside the input: the output is 0 or the bias
        for (int64_t s = 0; s < N; ++s)
          for (int64_t f = 0; f < F; ++f) c[s * ldc + f] = bias ? bias[f] : T(0);
    } else if constexpr (kHwy) {
      // short runs read in place through a table of (input offset, kernel row) per valid tap, not gathered
      int64_t k = 0;
      runs(w, [&](int64_t i, int64_t q, int64_t len) {
        for (int64_t e = 0; e < len; ++e, ++k) kidx[k] = i + e, kidx[K + k] = q + e;
      });
      lc_sgemm_indexed(N, F, k, x, in, kidx, wp, kidx + K, F, bias, c, ldc);
    } else {
      gather(w, x, buf);
      gemm(false, N, F, K, buf, kd, wp, F, beta, c, ldc, false, bias);
    }
  }

  // g is dY position-major (N, P, F). buf, dbuf: N x kd; wtr (hwy): F x kd, zero beyond column K;
  // wbuf, dwbuf: K x F when perm is set; brow, gcopy (hwy): F and N x F values.
  void backward_position(int64_t pos, const T* x, const T* wt, const T* g, T* dx, T* dw, T* db, T* buf,
                         T* dbuf, T* wtr, T* wbuf, T* dwbuf, T* brow, T* gcopy, int64_t* kidx) const {
    int64_t ldg = P * F;
    const T* gp = g + pos * F;
    const T* wp = weights(pos, wt, wbuf);
    T* dwp = perm ? dwbuf : dw + pos * K * F;
    if (perm) std::fill(dwbuf, dwbuf + K * F, T(0));
    if constexpr (kHwy) {
      // dY_p packed (its rows P * F apart fall into few L1 sets) and its column sums, from one pass
      T* copy = N > 1 ? gcopy : nullptr;
      if (copy || p.has_bias) lc_colsum(N, F, gp, ldg, p.has_bias ? brow : nullptr, copy);
      if (copy) gp = copy, ldg = F;
      if (p.has_bias)
        for (int64_t f = 0; f < F; ++f) db[bias_fp ? f * P + pos : pos * F + f] += brow[f];
    } else if (p.has_bias && bias_fp)
      for (int64_t f = 0; f < F; ++f) {
        T sum = 0;
        for (int64_t s = 0; s < N; ++s) sum += gp[s * ldg + f];
        db[f * P + pos] += sum;
      }
    else if (p.has_bias)
      for (int64_t s = 0; s < N; ++s)
        for (int64_t f = 0; f < F; ++f) db[pos * F + f] += gp[s * ldg + f];  // contiguous: vectorised
    Window w = window(pos);
    // hwy: W[p]^T, so that dX_p = dY_p W[p]^T is a plain product. Batch 1 keeps BLAS's GEMV, which reads W[p]
    // once where the transposition would read it and write a copy.
    const bool transposed = kHwy && N > 1;
    if constexpr (kHwy)
      if (transposed) lc_transpose(K, F, wp, F, wtr, kd);
    // dX_p (columns q .. q + n of the patch) = dY_p W[p]^T
    auto dxp = [&](int64_t q, int64_t n, T beta, T* c, int64_t ldc, bool padded) {
      if (transposed)
        gemm(false, N, n, F, gp, ldg, wtr + q, kd, beta, c, ldc, padded);
      else
        mm<T>(false, true, N, n, F, gp, ldg, wp + q * F, F, beta, c, ldc);
    };
    if (direct) {
      runs(w, [&](int64_t i, int64_t q, int64_t len) {
        gemm(true, len, F, N, x + i, in, gp, ldg, T(1), dwp + q * F, F);
        dxp(q, len, T(1), dx + i, in, false);
      });
    } else {
      // hwy with every tap inside the input: dW[p] reads the patch in place through a table of offsets
      int64_t k = 0;
      if constexpr (kHwy)
        if (kidx && full_runs(w) == K) {
          runs(w, [&](int64_t i, int64_t, int64_t len) {
            for (int64_t e = 0; e < len; ++e) kidx[k++] = i + e;
          });
          lc_sgemm_rows(K, F, N, x, kidx, in, gp, ldg, dwp, F);
        }
      if (k == 0) {
        gather(w, x, buf);
        gemm(true, K, F, N, buf, kd, gp, ldg, T(1), dwp, F);
      }
      dxp(0, K, T(0), dbuf, kd, true);
      scatter_add(w, dbuf, dx);
    }
    if (perm)
      for (int64_t q = 0; q < K; ++q) {
        T* dst = dw + (pos * K + perm[q]) * F;
        for (int64_t f = 0; f < F; ++f) dst[f] += dwbuf[q * F + f];
      }
  }
};

// channels_first runs the channels_last algorithm on x transposed per sample to (h, w, c), with the kernel
// rows permuted per position (row copies of F values): one input-sized copy (and one for dx) instead of
// gathering a (c, tap_r, tap_c) patch one value at a time (issue 34: about 6x slower than channels_last).
// perm[q] = the layer's kernel row of channels_last patch element q.
std::vector<int64_t> first_order(const LcProblem& p) {
  std::vector<int64_t> perm(size_t(p.patch()));
  for (int64_t r = 0; r < p.kh; ++r)
    for (int64_t t = 0; t < p.kw; ++t)
      for (int64_t ch = 0; ch < p.c; ++ch) perm[size_t((r * p.kw + t) * p.c + ch)] = (ch * p.kh + r) * p.kw + t;
  return perm;
}

template <class T>
struct ChannelsLast {
  LcProblem q;
  std::vector<int64_t> perm;  // empty for channels_last
  std::unique_ptr<T[]> xt;
  const T* x;
  ChannelsLast(const LcProblem& p, const T* x_in) : q(p), x(x_in) {
    if (p.channels_last) return;
    q.channels_last = true;
    perm = first_order(p);
    xt = buffer<T>(p.n * p.in_sample());
    transpose<T>(x_in, xt.get(), p.n, p.c, p.h * p.w);
    x = xt.get();
  }
};

template <class T, bool kHwy>
void forward_t(const LcProblem& p, const T* x, const T* w, const T* b, T* y) {
  ChannelsLast<T> v(p, x);
  Lc<T, kHwy> lc{v.q};
  if (!v.perm.empty()) lc.perm = v.perm.data();
  lc.bias_fp = !p.channels_last;
  const int64_t P = lc.P, F = lc.F;
  // channels_first: blocks of kBlock positions are computed position-major into a per-thread buffer and
  // transposed into y (kBlock contiguous values per sample and filter), with no output-sized buffer; the bias
  // (f * P + pos) is gathered into one row per position and added inside the product.
  constexpr int64_t kBlock = 16;
  for_items(P, [&](int64_t lo, int64_t hi) {
    auto buf = lc.direct || kHwy ? nullptr : buffer<T>(lc.N * lc.kd);
    auto wbuf = lc.perm ? buffer<T>(lc.K * F) : nullptr;
    auto kidx = lc.direct || !kHwy ? nullptr : buffer<int64_t>(2 * lc.K);
    if (p.channels_last) {
      for (int64_t pos = lo; pos < hi; ++pos)
        lc.forward_position(pos, v.x, w, b, y + pos * F, P * F, buf.get(), wbuf.get(), nullptr, kidx.get());
      return;
    }
    auto brow = buffer<T>(F);
    auto blk = buffer<T>(lc.N * kBlock * F);
    for (int64_t p0 = lo; p0 < hi; p0 += kBlock) {
      const int64_t nb = std::min(kBlock, hi - p0);
      for (int64_t pos = p0; pos < p0 + nb; ++pos)
        lc.forward_position(pos, v.x, w, b, blk.get() + (pos - p0) * F, nb * F, buf.get(), wbuf.get(),
                            brow.get(), kidx.get());
      for (int64_t s = 0; s < lc.N; ++s) transpose_rows<T>(nb, F, blk.get() + s * nb * F, F, y + s * F * P + p0, P);
    }
  });
}

template <class T, bool kHwy>
void backward_t(const LcProblem& p, const T* dy, const T* x, const T* w, T* dx, T* dw, T* db) {
  ChannelsLast<T> v(p, x);
  Lc<T, kHwy> lc{v.q};
  if (!v.perm.empty()) lc.perm = v.perm.data();
  lc.bias_fp = !p.channels_last;
  const T* g = dy;
  std::unique_ptr<T[]> tmp, dxt;
  T* dxl = dx;  // dx in (n, h, w, c)
  if (!p.channels_last) {
    tmp = buffer<T>(lc.N * lc.P * lc.F);
    transpose<T>(g, tmp.get(), lc.N, lc.F, lc.P);
    g = tmp.get();
    dxt = buffer<T>(lc.N * lc.in);
    dxl = dxt.get();
  }
  parallel_for(0, lc.N * lc.in, 1 << 16, [&](int64_t lo, int64_t hi) { std::fill(dxl + lo, dxl + hi, T(0)); });
  // Positions whose oy (ox) differ by >= Gh (Gw) have disjoint input windows. Threads take blocks of >= G
  // output rows (columns for one-row outputs), even blocks first, then odd ones: no atomics, no per-thread
  // copies of dx, and each block runs in raster order, so that neighbouring windows share x and dx in cache
  // (the earlier (oy mod Gh, ox mod Gw) phases swept all of x and dx Gh * Gw times; see README.md). One thread:
  // one block.
  auto ceil_div = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
  const int64_t gh = std::min(p.oh, ceil_div(p.extent(0), p.sh));
  const int64_t gw = std::min(p.ow, ceil_div(p.extent(1), p.sw));
  const int64_t threads = num_threads();
  const bool by_rows = p.oh >= 2 * gh || p.ow < 2 * gw;
  const int64_t len = by_rows ? p.oh : p.ow, gap = by_rows ? gh : gw;
  const int64_t bs =
      std::max<int64_t>(1, threads == 1 || len < 2 * gap ? len : std::max(gap, ceil_div(len, 2 * threads)));
  const int64_t blocks = ceil_div(len, bs);
  for (int64_t parity = 0; parity < std::min<int64_t>(2, blocks); ++parity)
    for_items((blocks - parity + 1) / 2, [&](int64_t lo, int64_t hi) {
      auto buf = lc.direct ? nullptr : buffer<T>(lc.N * lc.kd);
      auto dbuf = lc.direct ? nullptr : buffer<T>(lc.N * lc.kd);
      std::unique_ptr<T[]> wtr(kHwy ? new T[size_t(lc.F * lc.kd)]() : nullptr);  // zero padding columns
      auto wbuf = lc.perm ? buffer<T>(lc.K * lc.F) : nullptr;
      auto dwbuf = lc.perm ? buffer<T>(lc.K * lc.F) : nullptr;
      auto kidx = lc.direct || !kHwy ? nullptr : buffer<int64_t>(lc.K);
      auto brow = kHwy ? buffer<T>(lc.F) : nullptr;
      auto gcopy = kHwy ? buffer<T>(lc.N * lc.F) : nullptr;
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t b0 = (2 * i + parity) * bs, b1 = std::min(len, b0 + bs);
        const int64_t y0 = by_rows ? b0 : 0, y1 = by_rows ? b1 : p.oh;
        const int64_t x0 = by_rows ? 0 : b0, x1 = by_rows ? p.ow : b1;
        for (int64_t oy = y0; oy < y1; ++oy)
          for (int64_t ox = x0; ox < x1; ++ox) {
            // dY_p's N rows lie P * F apart, too many streams for the hardware prefetcher: fetch the next
            // position's rows into L2 while this one computes
            const int64_t next = ox + 1 < x1 ? oy * p.ow + ox + 1 : (oy + 1) * p.ow + x0;
            if (next < lc.P)
              for (int64_t s = 0; s < lc.N; ++s)
                for (int64_t f = 0; f < lc.F; f += 64 / int64_t(sizeof(T)))
                  __builtin_prefetch(g + (s * lc.P + next) * lc.F + f, 0, 2);
            lc.backward_position(oy * p.ow + ox, v.x, w, g, dxl, dw, db, buf.get(), dbuf.get(), wtr.get(),
                                 wbuf.get(), dwbuf.get(), brow.get(), gcopy.get(), kidx.get());
          }
      }
    });
  if (!p.channels_last) transpose<T>(dxl, dx, lc.N, p.h * p.w, p.c);
}

// The two kernels: "blas" for T = float or double, "hwy" for float only.
template <class T, bool kHwy>
struct Kernel {
  static constexpr auto forward = forward_t<T, kHwy>;
  static constexpr auto backward = backward_t<T, kHwy>;
};
template <class T>
using Blas = Kernel<T, false>;
template <class T>
using Hwy = Kernel<T, true>;

bool applicable(const LcProblem& p, std::string* why) {
  if (!f32_or_f64(p.dtype, why)) return false;
  constexpr int64_t kMax = int64_t(1) << 31;
  for (int64_t v : {p.n, p.f, p.patch(), p.in_sample(), p.positions() * p.f, p.n * p.patch()})
    if (v >= kMax) {
      *why = "dimensions exceed the 32-bit BLAS interface";
      return false;
    }
  if (p.n == 0) {
    *why = "empty batch";
    return false;
  }
  return true;
}

bool hwy_applicable(const LcProblem& p, std::string* why) {
  if (p.dtype != DType::f32) {
    *why = "dtype must be f32";
    return false;
  }
  return applicable(p, why);
}

}  // namespace

extern const LcKernel kLcBlas = typed_kernel<LcKernel, Blas>("blas", applicable);
extern const LcKernel kLcHwy{"hwy", hwy_applicable, typed_forward<float, Hwy, LcProblem>,
                             typed_backward<float, Hwy, LcProblem>};

}  // namespace locnet::kernels
