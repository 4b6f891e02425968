// The cases of a conformance data set: the lines of tests/conformance/<set>/cases.txt other than blank lines and
// "#" comments, as written by that set's generate.py. A missing file fails the test and gives no cases, so the
// caller's check of the case count fails too.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "locnet/io/npy.hpp"

namespace locnet::testing {

inline std::string conformance_dir(const std::string& set) {
  return std::string(LOCNET_SOURCE_DIR) + "/tests/conformance/" + set + "/";
}

inline std::vector<std::string> conformance_cases(const std::string& dir) {
  std::ifstream index(dir + "cases.txt");
  if (!index) ADD_FAILURE() << "missing " << dir << "cases.txt";
  std::vector<std::string> cases;
  for (std::string line; std::getline(index, line);)
    if (!line.empty() && line[0] != '#') cases.push_back(line);
  return cases;
}

// A case of a set whose cases.txt lines are "name|layer spec": the spec, and the files generate.py wrote for it.
struct LayerCase {
  std::string dir, name, spec;
  Tensor load(const char* tag) const { return read_npy(dir + name + "_" + tag + ".npy"); }  // <name>_<tag>.npy
};

inline std::vector<LayerCase> layer_cases(const std::string& set) {
  const std::string dir = conformance_dir(set);
  std::vector<LayerCase> out;
  for (const std::string& line : conformance_cases(dir)) {
    const size_t bar = line.find('|');
    if (bar == std::string::npos) ADD_FAILURE() << "a case must be name|spec, got " << line;
    else out.push_back({dir, line.substr(0, bar), line.substr(bar + 1)});
  }
  return out;
}

}  // namespace locnet::testing
