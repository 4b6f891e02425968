// The write(2) every file writer goes through (src/io/file.cpp). Tests replace it to simulate short writes and
// failing disks; it is a seam for them, not part of the installed headers.
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace locnet::detail {

extern ssize_t (*write_call)(int fd, const void* data, size_t size);

}  // namespace locnet::detail
