// dist/mpi.hpp. Without MPI (the default build) world() is the single process. With LOCNET_HAVE_MPI (CMake
// LOCNET_MPI=ON) one communication thread owns MPI: it initializes it, runs every operation from a FIFO queue (so
// operations complete in the order this rank issued them, blocking or not) and finalizes it at exit. It starts
// each operation non-blocking and polls with a growing sleep, so on oversubscribed cores a rank waiting for a slow
// peer leaves the CPU to the compute threads (OpenMPI's blocking calls busy-poll).
#include "locnet/dist/mpi.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "locnet/core/error.hpp"

#if LOCNET_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#endif

namespace locnet::dist {

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

namespace {

double timeout_from(const MpiOptions& options) {
  double t = options.timeout_s;
  if (const char* env = std::getenv("LOCNET_DIST_TIMEOUT")) {
    char* end = nullptr;
    errno = 0;
    t = std::strtod(env, &end);
    if (end == env || *end || errno)
      raise<ConfigError>("LOCNET_DIST_TIMEOUT: the value must be a number of seconds > 0, got '{}'", env);
    if (!(t > 0)) raise<ConfigError>("LOCNET_DIST_TIMEOUT: the value must be > 0, got {}", t);
  }
  if (!(t > 0)) raise<ConfigError>("dist: timeout_s must be > 0, got {}", t);
  return t;
}

}  // namespace

#if !LOCNET_HAVE_MPI

bool mpi_available() { return false; }

std::shared_ptr<Collective> world(const MpiOptions& options) {
  timeout_from(options);
  if (launched_by_mpi())
    raise<NotSupported>("dist: this process was started by an MPI launcher, but locnet was built without MPI "
                        "(configure with -DLOCNET_MPI=ON; scripts/setup does)");
  return local_collective();
}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::exit(code);
}

#else

bool mpi_available() { return true; }

namespace {

enum class Op { sum_f64, sum_f32, max_f64, gather_f64, broadcast, barrier, finalize };
const char* op_name(Op op) {
  constexpr const char* names[] = {"all_reduce_sum", "all_reduce_sum", "all_reduce_max", "all_gather",
                                   "broadcast",      "barrier",        "finalize"};
  return names[int(op)];
}

// One queued operation; its caller waits on it (Request::wait or the blocking call).
struct Job {
  Op op = Op::barrier;
  void* data = nullptr;
  const void* in = nullptr;
  size_t count = 0;
  int root = 0;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::string error;  // MPI's failure, set by the communication thread
};

// The process's MPI: the communication thread and its queue. Never destroyed (finalize() runs at exit).
class Engine {
 public:
  Engine() {
    std::promise<void> started;
    thread_ = std::thread([this, &started] { main_loop(started); });
    started.get_future().get();
  }
  int rank = 0, size = 1;

  void submit(const std::shared_ptr<Job>& job) {
    std::lock_guard lock(m_);
    queue_.push_back(job);
    cv_.notify_one();
  }

  // Waits for the queue to drain and MPI_Finalize (or gives up after timeout_s: the job is then aborted, since a
  // peer that never finalizes would hold this process forever).
  void finalize(double timeout_s) {
    auto job = std::make_shared<Job>();
    job->op = Op::finalize;
    submit(job);
    std::unique_lock lock(job->m);
    if (job->cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return job->done; })) {
      lock.unlock();
      thread_.join();
      return;
    }
    lock.unlock();
    abort_job(fmt::format("finalize: did not complete within {} s (a rank died or hangs)", timeout_s));
  }

 private:
  void main_loop(std::promise<void>& started) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);  // MULTIPLE: abort_job from any thread
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    started.set_value();
    std::string failure;  // after an MPI error the communicator is unusable: every later operation fails with it
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      const bool last = job->op == Op::finalize;
      std::string error = failure;
      if (last)
        MPI_Finalize();
      else if (error.empty()) {
        error = run(*job);
        if (!error.empty()) failure = error;
      }
      {
        std::lock_guard lock(job->m);
        job->error = std::move(error);
        job->done = true;
      }
      job->cv.notify_all();
      if (last) return;
    }
  }

  std::string check(int rc, Op op) const {
    if (rc == MPI_SUCCESS) return {};
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return fmt::format("{}: rank {} of {}: MPI failed: {}", op_name(op), rank, size, std::string(text, size_t(len)));
  }

  // Polls a started operation: MPI_Test with yields for 500 us (shared-memory peers answer in microseconds, and
  // SyncBatchNorm's small blocking collectives come several per step: 2 ranks x 1 thread trained the README
  // network at a median 4176 samples/s with 64 tries and no spin time, 5196 with 500 us), then with sleeps
  // growing to 200 us, which keep a waiting rank off the CPU.
  static constexpr int kSpinMicroseconds = 500;
  std::string wait(MPI_Request& req, Op op) const {
    int flag = 0;
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    do {
      if (int rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) return check(rc, op);
      if (flag) return {};
      std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < spin_until);
    auto pause = std::chrono::microseconds(5);
    for (;;) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(200));
      if (int rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) return check(rc, op);
      if (flag) return {};
    }
  }

  std::string run(const Job& j) const {
    // MPI counts are ints: reductions and broadcasts go in pieces of at most 2^30 elements (every rank passes the
    // same lengths, so a length of 0 is no operation on every rank)
    constexpr size_t kPiece = size_t(1) << 30;
    MPI_Request req = MPI_REQUEST_NULL;
    auto reduce = [&](MPI_Datatype type, size_t elem, MPI_Op op) -> std::string {
      auto* p = static_cast<char*>(j.data);
      for (size_t done = 0; done < j.count; done += kPiece) {
        const int n = int(std::min(kPiece, j.count - done));
        if (auto e = check(MPI_Iallreduce(MPI_IN_PLACE, p + done * elem, n, type, op, MPI_COMM_WORLD, &req), j.op);
            !e.empty())
          return e;
        if (auto e = wait(req, j.op); !e.empty()) return e;
      }
      return {};
    };
    switch (j.op) {
      case Op::sum_f64: return reduce(MPI_DOUBLE, sizeof(double), MPI_SUM);
      case Op::sum_f32: return reduce(MPI_FLOAT, sizeof(float), MPI_SUM);
      case Op::max_f64: return reduce(MPI_DOUBLE, sizeof(double), MPI_MAX);
      case Op::gather_f64:
        if (j.count == 0) return {};
        if (auto e = check(MPI_Iallgather(j.in, int(j.count), MPI_DOUBLE, j.data, int(j.count), MPI_DOUBLE,
                                          MPI_COMM_WORLD, &req),
                           j.op);
            !e.empty())
          return e;
        return wait(req, j.op);
      case Op::broadcast: {
        auto* p = static_cast<char*>(j.data);
        for (size_t done = 0; done < j.count; done += kPiece) {
          const int n = int(std::min(kPiece, j.count - done));
          if (auto e = check(MPI_Ibcast(p + done, n, MPI_BYTE, j.root, MPI_COMM_WORLD, &req), j.op); !e.empty())
            return e;
          if (auto e = wait(req, j.op); !e.empty()) return e;
        }
        return {};
      }
      case Op::barrier:
        if (auto e = check(MPI_Ibarrier(MPI_COMM_WORLD, &req), j.op); !e.empty()) return e;
        return wait(req, j.op);
      case Op::finalize: break;
    }
    return {};
  }

  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
};

Engine* g_engine = nullptr;  // set once, by the first world() of a launched process
double g_exit_timeout = 300;
std::mutex g_init;

// The wait of one operation; on timeout this rank's Collective is marked failed (the operation stays queued: a
// late peer may still complete it, but its buffer must then stay alive; the job should end, abort_job).
void await(Job& job, double timeout_s, int rank, int size) {
  std::unique_lock lock(job.m);
  if (!job.cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return job.done; }))
    raise<DistError>("{}: rank {} of {} did not complete within {} s (a rank died or hangs)", op_name(job.op), rank,
                     size, timeout_s);
  if (!job.error.empty()) throw DistError(job.error);
}

class MpiCollective : public Collective {
 public:
  MpiCollective(Engine& e, double timeout_s) : e_(e), timeout_s_(timeout_s) {}
  int rank() const override { return e_.rank; }
  int size() const override { return e_.size; }
  void all_reduce_sum(std::span<double> d) override { call(Op::sum_f64, d.data(), nullptr, d.size()); }
  void all_reduce_sum(std::span<float> d) override { call(Op::sum_f32, d.data(), nullptr, d.size()); }
  void all_reduce_max(std::span<double> d) override { call(Op::max_f64, d.data(), nullptr, d.size()); }
  void all_gather(std::span<const double> mine, std::span<double> all) override {
    if (all.size() != mine.size() * size_t(size()))
      raise<ShapeError>("all_gather: the output must hold {} values, got {}", mine.size() * size_t(size()),
                        all.size());
    if (mine.size() > size_t(INT_MAX))
      raise<ShapeError>("all_gather: each rank's values must be at most {}, got {}", INT_MAX, mine.size());
    call(Op::gather_f64, all.data(), mine.data(), mine.size());
  }
  void broadcast(std::span<std::byte> d, int root) override {
    if (root < 0 || root >= size()) raise<ConfigError>("broadcast: root must be in [0, {}), got {}", size(), root);
    call(Op::broadcast, d.data(), nullptr, d.size(), root);
  }
  void barrier() override { call(Op::barrier, nullptr, nullptr, 0); }

  class Pending : public Request {
   public:
    Pending(std::shared_ptr<Job> job, MpiCollective& owner) : job_(std::move(job)), owner_(owner) {}
    void wait() override { owner_.finish(*job_); }

   private:
    std::shared_ptr<Job> job_;
    MpiCollective& owner_;
  };
  std::unique_ptr<Request> all_reduce_sum_async(std::span<float> d) override {
    return std::make_unique<Pending>(start(Op::sum_f32, d.data(), nullptr, d.size()), *this);
  }
  std::unique_ptr<Request> all_reduce_sum_async(std::span<double> d) override {
    return std::make_unique<Pending>(start(Op::sum_f64, d.data(), nullptr, d.size()), *this);
  }

 private:
  std::shared_ptr<Job> start(Op op, void* data, const void* in, size_t count, int root = 0) {
    if (!failure_.empty()) throw DistError(failure_);
    auto job = std::make_shared<Job>();
    job->op = op, job->data = data, job->in = in, job->count = count, job->root = root;
    e_.submit(job);
    return job;
  }
  void finish(Job& job) {
    try {
      await(job, timeout_s_, rank(), size());
    } catch (const DistError& e) {
      failure_ = e.what();
      throw;
    }
  }
  void call(Op op, void* data, const void* in, size_t count, int root = 0) {
    finish(*start(op, data, in, count, root));
  }

  Engine& e_;
  double timeout_s_;
  std::string failure_;  // a timed-out or failed collective: every later operation fails with it
};

// libgomp starts as many threads as cores in every rank; ranks sharing a node would oversubscribe it. Unless the
// user chose (OMP_NUM_THREADS), each of the node's ranks gets its share of the cores.
void share_cores() {
  if (std::getenv("OMP_NUM_THREADS")) return;
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!local) local = std::getenv("MPI_LOCALNRANKS");
  const int ranks = local ? std::atoi(local) : 0;
  if (ranks > 1) omp_set_num_threads(std::max(1, omp_get_num_procs() / ranks));
}

}  // namespace

std::shared_ptr<Collective> world(const MpiOptions& options) {
  const double timeout_s = timeout_from(options);
  if (!launched_by_mpi()) return local_collective();
  std::lock_guard lock(g_init);
  if (!g_engine) {
    g_engine = new Engine();  // lives until exit; the communication thread ends in MPI_Finalize
    g_exit_timeout = timeout_s;
    share_cores();
    std::atexit([] { g_engine->finalize(g_exit_timeout); });
  }
  return std::make_shared<MpiCollective>(*g_engine, timeout_s);
}

void abort_job(const std::string& message, int code) {
  if (!g_engine) {  // a single process, as without MPI
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    std::exit(code);
  }
  std::fprintf(stderr, "%s: rank %d of %d: %s\n", program_invocation_short_name, g_engine->rank, g_engine->size,
               message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; should it, this rank still ends
}

#endif

}  // namespace locnet::dist
