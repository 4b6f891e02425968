// Data-parallel training for Python (locnet.distributed, docs/distributed.md): the job's group (dist::world()) as
// a Collective object with in-place sums on NumPy arrays, and convert_sync_batchnorm. Collective operations
// release the GIL, so another Python thread runs while a rank waits for its peers.
#include <span>
#include <string>
#include <type_traits>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/core/collective.hpp"
#include "locnet/dist/mpi.hpp"
#include "locnet/dist/sync_batch_norm.hpp"
#include "locnet/dist/thread_group.hpp"
#include "locnet/model/model.hpp"

namespace locnet::python {

namespace {

// The array's elements, summed (or maximized) over the ranks in place: a writable C-contiguous float64 or
// float32 array (max: float64 only, as Collective offers it).
template <class T>
void reduce_in_place(Collective& group, py::array& a, bool max) {
  std::span<T> data(static_cast<T*>(a.mutable_data()), static_cast<size_t>(a.size()));
  py::gil_scoped_release unlocked;
  if constexpr (std::is_same_v<T, double>) {
    if (max) return group.all_reduce_max(data);
  }
  group.all_reduce_sum(data);
}

py::array all_reduce(Collective& group, py::array a, const std::string& op) {
  if (op != "sum" && op != "max")
    throw py::value_error("all_reduce: op must be 'sum' or 'max', got '" + op + "'");
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error("all_reduce: the array must be writable and C-contiguous (it is reduced in place)");
  const char kind = a.dtype().kind();
  if (kind == 'f' && a.itemsize() == 8) {
    reduce_in_place<double>(group, a, op == "max");
  } else if (kind == 'f' && a.itemsize() == 4 && op == "sum") {
    reduce_in_place<float>(group, a, false);
  } else {
    throw py::type_error("all_reduce: the array's dtype must be float64 (sum, max) or float32 (sum), got " +
                         py::str(a.dtype()).cast<std::string>() + " with op '" + op + "'");
  }
  return a;
}

}  // namespace

void bind_dist(py::module_& m) {
  py::class_<Collective, std::shared_ptr<Collective>>(m, "Collective")
      .def_property_readonly("rank", &Collective::rank)
      .def_property_readonly("size", &Collective::size)
      .def("where", &Collective::where, "'rank 1 of 3' ('' for a single process)")
      .def("barrier", [](Collective& g) {
             py::gil_scoped_release unlocked;
             g.barrier();
           })
      .def("all_reduce", &all_reduce, py::arg("array"), py::arg("op") = "sum",
           "Sums (op='sum') or maximizes (op='max', float64) the array over the ranks in place; returns it");
  m.def("local_collective", &local_collective, "The single-process group (size 1)");
  m.def("thread_group", &dist::thread_group, py::arg("n"), py::arg("timeout_s") = 60.0,
        "n groups, one per rank, for n threads of this process (tests without MPI)");
  m.def("dist_world", [](double timeout_s) {
          py::gil_scoped_release unlocked;
          return dist::world(dist::MpiOptions{.timeout_s = timeout_s});
        }, py::arg("timeout_s") = dist::MpiOptions{}.timeout_s,
        "The job's group: MPI_COMM_WORLD under an MPI launcher (MPI initialized on the first call), else the "
        "single process");
  m.def("mpi_available", &dist::mpi_available, "Whether this build has MPI (-DLOCNET_MPI=ON)");
  m.def("launched_by_mpi", &dist::launched_by_mpi, "Whether this process was started by an MPI launcher");
  m.def("abort_job", [](const std::string& message, int code) { dist::abort_job(message, code); },
        py::arg("message"), py::arg("code") = 1,
        "Ends every process of the job (MPI_Abort) after printing the message with this rank; never returns");
  m.def("convert_sync_batchnorm", [](Model& model) { return dist::convert_sync_batchnorm(model); },
        py::arg("model"), "Sets sync=True on every BatchNorm layer; returns how many");
}

}  // namespace locnet::python
