#include "locnet/dist/data_parallel.hpp"

#include <chrono>
#include <cstring>

#include "locnet/core/error.hpp"

namespace locnet::dist {

Shard shard(int64_t n, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size)
    raise<ConfigError>("shard: rank must be in [0, size) with size >= 1, got rank {} of {}", rank, size);
  if (n < 0) raise<ConfigError>("shard: the number of samples must be >= 0, got {}", n);
  const int64_t base = n / size, extra = n % size;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

void broadcast_parameters(Model& model, Collective& group, int root) {
  for (auto& [name, p] : model.named_params(true))
    if (p->value.defined())
      group.broadcast(std::span<std::byte>(static_cast<std::byte*>(p->value.raw()), p->value.nbytes()), root);
}

namespace {

// 8 bytes at a time, multiply-xorshift mixing (a hash for equality checks, not for security).
uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

uint64_t hash_bytes(uint64_t h, const void* data, size_t n) {
  auto p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = mix(h, v);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, n - i);
  return mix(h, tail ^ (uint64_t(n) << 56));
}

}  // namespace

uint64_t parameter_hash(Model& model) {
  uint64_t h = 0x6c6f636e6574ULL;
  for (auto& [name, p] : model.named_params(true)) {
    h = hash_bytes(h, name.data(), name.size());
    if (p->value.defined()) h = hash_bytes(h, p->value.raw(), p->value.nbytes());
  }
  return h;
}

void check_replicas(Model& model, Collective& group) {
  const uint64_t h = parameter_hash(model);
  // Two exact 32-bit halves per rank (a double holds any 32-bit integer).
  std::vector<double> mine{double(h >> 32), double(h & 0xffffffffULL)}, all(size_t(2 * group.size()));
  group.all_gather(mine, all);
  std::vector<int> differ;
  for (int r = 1; r < group.size(); ++r)
    if (all[size_t(2 * r)] != all[0] || all[size_t(2 * r + 1)] != all[1]) differ.push_back(r);
  if (!differ.empty())
    raise<DistError>("check_replicas: every rank's parameters must equal rank 0's, got different ones on rank{} {} "
                     "({})",
                     differ.size() > 1 ? "s" : "", fmt::join(differ, ", "), group.where());
}

struct GradientReducer::Impl {
  struct Bucket {
    DType dtype = DType::f32;
    std::vector<Param*> params;
    std::vector<float> f32;
    std::vector<double> f64;
    int64_t layers_left = 0, layers = 0;  // layers of this bucket whose backward has not run yet this step
    std::unique_ptr<Collective::Request> request;
  };
  Model& model;
  std::shared_ptr<Collective> group;
  std::vector<Bucket> buckets;
  std::vector<std::vector<size_t>> buckets_of_layer;  // layer index -> buckets holding its parameters
  Stats stats;

  void launch(Bucket& b) {
    size_t at = 0;
    for (Param* p : b.params) {
      const size_t n = size_t(p->grad.numel());
      if (b.dtype == DType::f64) std::memcpy(b.f64.data() + at, p->grad.data<double>(), n * sizeof(double));
      else std::memcpy(b.f32.data() + at, p->grad.data<float>(), n * sizeof(float));
      at += n;
    }
    b.request = b.dtype == DType::f64 ? group->all_reduce_sum_async(std::span<double>(b.f64))
                                      : group->all_reduce_sum_async(std::span<float>(b.f32));
  }

  void on_layer(size_t layer) {
    if (layer >= buckets_of_layer.size()) return;
    for (size_t bi : buckets_of_layer[layer]) {
      Bucket& b = buckets[bi];
      if (--b.layers_left == 0 && !b.request) launch(b);
    }
  }

  void wait_all() noexcept {
    for (Bucket& b : buckets)
      if (b.request) {
        try {
          b.request->wait();
        } catch (...) {  // a destructor must not throw; finish() reports the error
        }
        b.request.reset();
      }
  }
};

GradientReducer::GradientReducer(Model& model, std::shared_ptr<Collective> group, int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>(Impl{model, std::move(group), {}, {}, {}})) {
  if (bucket_bytes < 1) raise<ConfigError>("GradientReducer: bucket_bytes must be >= 1, got {}", bucket_bytes);
  if (!impl_->group) raise<ConfigError>("GradientReducer: the collective must be set, got none");
  Impl& im = *impl_;
  const size_t layers = model.size();
  im.buckets_of_layer.assign(layers, {});
  int64_t bytes = 0;
  for (size_t li = layers; li-- > 0;) {  // reverse layer order: the order backward produces gradients in
    Layer& l = model.layer(li);
    bool counted = false;
    for (Param* p : l.params()) {
      if (!p->trainable || !p->grad.defined()) continue;
      const DType dt = p->grad.dtype();
      if (dt != DType::f32 && dt != DType::f64)
        raise<NotSupported>("GradientReducer: gradients must be f32 or f64, got {} for {}.{}", dtype_name(dt),
                            l.name(), p->name);
      const int64_t nb = int64_t(p->grad.nbytes());
      if (im.buckets.empty() || bytes >= bucket_bytes || im.buckets.back().dtype != dt) {
        im.buckets.emplace_back();
        im.buckets.back().dtype = dt;
        bytes = 0;
        counted = false;
      }
      Impl::Bucket& b = im.buckets.back();
      b.params.push_back(p);
      (dt == DType::f64 ? b.f64.resize(b.f64.size() + size_t(p->grad.numel()))
                        : b.f32.resize(b.f32.size() + size_t(p->grad.numel())));
      bytes += nb;
      im.stats.bytes_per_step += nb;
      if (!counted) {
        ++b.layers;
        im.buckets_of_layer[li].push_back(im.buckets.size() - 1);
        counted = true;
      }
    }
  }
  im.stats.buckets = int64_t(im.buckets.size());
  for (Impl::Bucket& b : im.buckets) b.layers_left = b.layers;
  Impl* p = impl_.get();
  model.set_backward_hook([p](size_t layer) { p->on_layer(layer); });
}

GradientReducer::~GradientReducer() {
  impl_->model.set_backward_hook({});
  impl_->wait_all();
}

void GradientReducer::finish() {
  Impl& im = *impl_;
  // Buckets whose layers did not all run backward (they feed no output) start here, in bucket order on every rank.
  for (Impl::Bucket& b : im.buckets)
    if (!b.request) im.launch(b);
  const auto start = std::chrono::steady_clock::now();
  std::exception_ptr error;
  for (Impl::Bucket& b : im.buckets) {
    try {
      b.request->wait();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
    b.request.reset();
    b.layers_left = b.layers;
  }
  im.stats.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (error) std::rethrow_exception(error);
  for (Impl::Bucket& b : im.buckets) {
    size_t at = 0;
    for (Param* p : b.params) {
      const size_t n = size_t(p->grad.numel());
      if (b.dtype == DType::f64) std::memcpy(p->grad.data<double>(), b.f64.data() + at, n * sizeof(double));
      else std::memcpy(p->grad.data<float>(), b.f32.data() + at, n * sizeof(float));
      at += n;
    }
  }
}

GradientReducer::Stats GradientReducer::stats() const { return impl_->stats; }

}  // namespace locnet::dist
