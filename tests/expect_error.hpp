// EXPECT_THROW_MSG(stmt, Type, "part of message"): the statement throws exactly Type (or a subclass) and the
// message contains the given text.
#pragma once
#include <gtest/gtest.h>

#include <string>

#define EXPECT_THROW_MSG(stmt, Type, part)                                                          \
  do {                                                                                              \
    bool thrown_ = false;                                                                           \
    try {                                                                                           \
      stmt;                                                                                         \
    } catch (const Type& e_) {                                                                      \
      thrown_ = true;                                                                               \
      EXPECT_NE(std::string(e_.what()).find(part), std::string::npos)                               \
          << "message: " << e_.what() << "\nexpected to contain: " << (part);                       \
    } catch (const std::exception& e_) {                                                            \
      ADD_FAILURE() << "threw another type than " #Type ": " << e_.what();                          \
      thrown_ = true;                                                                               \
    }                                                                                               \
    if (!thrown_) ADD_FAILURE() << #stmt " did not throw " #Type;                                   \
  } while (0)
