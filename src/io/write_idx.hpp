// write_idx(path, a, gzip): the bytes of an IDX file (plain, or gzip-compressed when gzip is true) written to
// path. The library only reads IDX data sets; the tests write small ones, so this is not an installed header.
#pragma once
#include <string>

#include "locnet/io/idx.hpp"

namespace locnet {

void write_idx(const std::string& path, const IdxArray& a, bool gzip = false);

}  // namespace locnet
