// The cases of a conformance data set: the lines of tests/conformance/<set>/cases.txt other than blank lines and
// "#" comments, as written by that set's generate.py. A missing file fails the test and gives no cases, so the
// caller's check of the case count fails too.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

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

}  // namespace locnet::testing
