// config.hpp and value.hpp: filling a config struct from a call's arguments (positional, keyword, errors),
// config_values / describe_config, and Value's repr (as Python prints) and equality.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "locnet/core/config.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/value.hpp"

using namespace locnet;

namespace {

// Every supported field type, the first one required.
struct FooConfig {
  int64_t units = 0;
  bool flag = false;
  double rate = 0.5;
  std::string mode = "same";
  std::vector<int64_t> kernel = {3, 3};
  std::optional<std::string> activation;
  std::optional<double> clip = 1.5;
  Value regularizer = Value(Call{"L2", {Value(0.0001)}, {}, -1});

  template <class Self, class Visit>
  static void fields(Self& self, Visit&& v) {
    v(self.units, Field{"units", "Number of units.", Field::required});
    v(self.flag, Field{"flag", "A switch."});
    v(self.rate, Field{"rate", "A rate."});
    v(self.mode, Field{"mode", "A mode."});
    v(self.kernel, Field{"kernel", "Kernel size."});
    v(self.activation, Field{"activation", "Activation or None."});
    v(self.clip, Field{"clip", "Clip value or None."});
    v(self.regularizer, Field{"regularizer", "Any value."});
  }
};

const std::vector<std::string> kNames = {"units", "flag", "rate", "mode", "kernel", "activation", "clip",
                                         "regularizer"};

Value at(Value v, int column) {
  v.column = column;
  return v;
}

Value ints(std::vector<int64_t> xs) {
  std::vector<Value> items;
  for (int64_t x : xs) items.emplace_back(x);
  return Value::tuple(std::move(items));
}

FooConfig assign(const Call& call) {
  FooConfig cfg;
  assign_config(cfg, call);
  return cfg;
}

}  // namespace

// ----- assign_config -----------------------------------------------------------------------------------------

TEST(Config, KeywordAndPositionalArguments) {
  FooConfig cfg = assign(Call{"Foo", {Value(3)}, {{"flag", Value(true)}}, 5});
  EXPECT_EQ(cfg.units, 3);
  EXPECT_TRUE(cfg.flag);
  // Untouched fields keep their defaults.
  EXPECT_EQ(cfg.rate, 0.5);
  EXPECT_EQ(cfg.mode, "same");
  EXPECT_EQ(cfg.kernel, (std::vector<int64_t>{3, 3}));
  EXPECT_FALSE(cfg.activation.has_value());
  EXPECT_EQ(cfg.clip, 1.5);

  cfg = assign(Call{"Foo",
                    {Value(7), Value(false), Value(0.25), Value("valid"), ints({5, 1})},
                    {{"activation", Value("relu")}, {"clip", Value(2.5)}, {"regularizer", Value()}},
                    1});
  EXPECT_EQ(cfg.units, 7);
  EXPECT_FALSE(cfg.flag);
  EXPECT_EQ(cfg.rate, 0.25);
  EXPECT_EQ(cfg.mode, "valid");
  EXPECT_EQ(cfg.kernel, (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(cfg.activation, std::optional<std::string>("relu"));
  EXPECT_EQ(cfg.clip, std::optional<double>(2.5));
  EXPECT_TRUE(cfg.regularizer.is_none());

  // All keywords, in any order.
  cfg = assign(Call{"Foo", {}, {{"mode", Value("causal")}, {"units", Value(int64_t(1) << 40)}}, -1});
  EXPECT_EQ(cfg.units, int64_t(1) << 40);
  EXPECT_EQ(cfg.mode, "causal");
}

TEST(Config, IntAcceptedForDouble) {
  FooConfig cfg = assign(Call{"Foo", {Value(1)}, {{"rate", Value(2)}, {"clip", Value(-3)}}, 1});
  EXPECT_EQ(cfg.rate, 2.0);
  EXPECT_EQ(cfg.clip, std::optional<double>(-3.0));
}

TEST(Config, SingleIntAcceptedForTuple) {
  FooConfig cfg = assign(Call{"Foo", {Value(1)}, {{"kernel", Value(5)}}, 1});
  EXPECT_EQ(cfg.kernel, (std::vector<int64_t>{5}));
  cfg = assign(Call{"Foo", {Value(1)}, {{"kernel", Value::tuple({})}}, 1});
  EXPECT_TRUE(cfg.kernel.empty());
  cfg = assign(Call{"Foo", {Value(1)}, {{"kernel", ints({2, 3, 4})}}, 1});
  EXPECT_EQ(cfg.kernel, (std::vector<int64_t>{2, 3, 4}));
}

TEST(Config, NoneForOptionalFields) {
  FooConfig cfg;
  cfg.activation = "tanh";
  assign_config(cfg, Call{"Foo", {Value(1)}, {{"activation", Value()}, {"clip", Value()}}, 1});
  EXPECT_FALSE(cfg.activation.has_value());
  EXPECT_FALSE(cfg.clip.has_value());
}

TEST(Config, ValueFieldTakesAnything) {
  const Value call = Value(Call{"L1L2", {Value(0.01)}, {{"l2", Value(0.02)}}, -1});
  for (const Value& v : {Value(1), Value("x"), ints({1, 2}), call, Value(true), Value(0.5)}) {
    FooConfig cfg = assign(Call{"Foo", {Value(1)}, {{"regularizer", v}}, 1});
    EXPECT_EQ(cfg.regularizer, v) << v.repr();
  }
}

TEST(Config, NameKeywordIsSkippedByDefault) {
  FooConfig cfg = assign(Call{"Foo", {Value(2)}, {{"name", Value("fc1")}}, 1});
  EXPECT_EQ(cfg.units, 2);
  // A custom skip list replaces the default one.
  FooConfig c2;
  assign_config(c2, Call{"Foo", {Value(2)}, {{"trainable", Value(false)}}, 1}, {"trainable"});
  EXPECT_EQ(c2.units, 2);
  EXPECT_THROW_MSG(assign_config(c2, Call{"Foo", {Value(2)}, {{"name", Value("x")}}, 1}, {"trainable"}),
                   ConfigError, "unknown argument 'name'");
}

TEST(Config, TypeErrorNamesArgumentExpectedTypeAndColumn) {
  // Expected "<Foo (column 5)>: argument 'flag' must be bool, got int 3 at column 17".
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"flag", at(Value(3), 17)}}, 5}), ConfigError,
                   "Foo (column 5): argument 'flag' must be bool, got int 3 at column 17");
  EXPECT_THROW_MSG(assign(Call{"Foo", {at(Value(1.5), 9)}, {}, 5}), ConfigError,
                   "argument 'units' must be int, got float 1.5 at column 9");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(true)}, {}, 5}), ConfigError,
                   "argument 'units' must be int, got bool True");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"rate", at(Value("fast"), 30)}}, 2}), ConfigError,
                   "argument 'rate' must be float, got string \"fast\" at column 30");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"mode", Value(4)}}, 2}), ConfigError,
                   "argument 'mode' must be string, got int 4");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"kernel", Value::tuple({Value(1), Value(2.5)})}}, 2}),
                   ConfigError, "argument 'kernel' must be int or tuple of ints, got tuple (1, 2.5)");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"kernel", Value(2.0)}}, 2}), ConfigError,
                   "argument 'kernel' must be int or tuple of ints, got float 2.0");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"activation", Value(3)}}, 2}), ConfigError,
                   "argument 'activation' must be string or None, got int 3");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"clip", Value("big")}}, 2}), ConfigError,
                   "argument 'clip' must be float or None, got string \"big\"");
  // None where None is not allowed.
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"rate", Value()}}, 2}), ConfigError,
                   "argument 'rate' must be float, got None");
  // Without a column (built in code) the message has no column at all.
  try {
    assign(Call{"Foo", {Value(1)}, {{"flag", Value(3)}}, -1});
    ADD_FAILURE() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("column"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("Foo: ", 0), 0u) << e.what();
  }
}

TEST(Config, UnknownArgumentListsTheKnownOnes) {
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"bogus", Value(1)}}, 4}), ConfigError,
                   "Foo (column 4): unknown argument 'bogus'; expected one of: units, flag, rate, mode, kernel, "
                   "activation, clip, regularizer, name");
}

TEST(Config, TooManyPositionalArguments) {
  std::vector<Value> nine(9, Value(1));
  EXPECT_THROW_MSG(assign(Call{"Foo", nine, {}, 3}), ConfigError,
                   "Foo (column 3): takes at most 8 positional arguments, got 9");
}

TEST(Config, ArgumentGivenTwice) {
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"units", Value(2)}}, 3}), ConfigError,
                   "Foo (column 3): argument 'units' given twice");
  EXPECT_THROW_MSG(assign(Call{"Foo", {Value(1)}, {{"mode", Value("a")}, {"mode", Value("b")}}, 3}), ConfigError,
                   "argument 'mode' given twice");
}

TEST(Config, MissingRequiredArgument) {
  EXPECT_THROW_MSG(assign(Call{"Foo", {}, {{"flag", Value(true)}}, 6}), ConfigError,
                   "Foo (column 6): argument 'units' is required (Number of units.)");
  EXPECT_THROW_MSG(assign(Call{"Foo", {}, {}, -1}), ConfigError, "Foo: argument 'units' is required");
}

// ----- config_values / describe_config -----------------------------------------------------------------------

TEST(Config, ConfigValuesInFieldOrder) {
  FooConfig cfg;
  cfg.units = 12;
  cfg.kernel = {7};
  cfg.activation = "relu";
  cfg.clip.reset();
  auto vals = config_values(cfg);
  ASSERT_EQ(vals.size(), kNames.size());
  for (size_t i = 0; i < kNames.size(); ++i) EXPECT_EQ(vals[i].first, kNames[i]);
  EXPECT_EQ(vals[0].second, Value(12));
  EXPECT_EQ(vals[1].second, Value(false));
  EXPECT_EQ(vals[2].second, Value(0.5));
  EXPECT_EQ(vals[3].second, Value("same"));
  EXPECT_EQ(vals[4].second, ints({7}));
  EXPECT_EQ(vals[5].second, Value("relu"));
  EXPECT_EQ(vals[6].second, Value());
  EXPECT_EQ(vals[7].second, Value(Call{"L2", {Value(0.0001)}, {}, -1}));
  EXPECT_EQ(vals[4].second.kind(), Value::Kind::Tuple);
  EXPECT_EQ(vals[2].second.kind(), Value::Kind::Float);

  // The values fed back as keywords reproduce the config.
  Call back{"Foo", {}, vals, -1};
  FooConfig again = assign(back);
  EXPECT_EQ(again.units, 12);
  EXPECT_EQ(again.kernel, (std::vector<int64_t>{7}));
  EXPECT_EQ(again.activation, std::optional<std::string>("relu"));
  EXPECT_FALSE(again.clip.has_value());
  EXPECT_EQ(config_values(again), vals);
}

TEST(Config, DescribeConfigDefaults) {
  auto docs = describe_config<FooConfig>();
  ASSERT_EQ(docs.size(), kNames.size());
  for (size_t i = 0; i < kNames.size(); ++i) EXPECT_EQ(docs[i].name, kNames[i]);
  const std::vector<std::string> types = {"int",   "bool",           "float",          "string", "int or tuple of ints",
                                          "string or None", "float or None", "value"};
  const std::vector<std::string> defaults = {"required", "False", "0.5",  "\"same\"", "(3, 3)",
                                             "None",     "1.5",   "L2(0.0001)"};
  for (size_t i = 0; i < kNames.size(); ++i) {
    EXPECT_EQ(docs[i].type, types[i]) << kNames[i];
    EXPECT_EQ(docs[i].default_repr, defaults[i]) << kNames[i];
    EXPECT_EQ(docs[i].required, i == 0) << kNames[i];
  }
  EXPECT_EQ(docs[0].doc, "Number of units.");
  EXPECT_EQ(docs[5].doc, "Activation or None.");
}

// ----- Value -------------------------------------------------------------------------------------------------

TEST(Value, KindsAndAccessors) {
  EXPECT_EQ(Value().kind(), Value::Kind::None);
  EXPECT_TRUE(Value().is_none());
  EXPECT_EQ(Value(true).kind(), Value::Kind::Bool);
  EXPECT_EQ(Value(3).kind(), Value::Kind::Int);
  EXPECT_EQ(Value(int64_t(3)).kind(), Value::Kind::Int);
  EXPECT_EQ(Value(3.0).kind(), Value::Kind::Float);
  EXPECT_EQ(Value("s").kind(), Value::Kind::Str);
  EXPECT_EQ(Value(std::string("s")).kind(), Value::Kind::Str);
  EXPECT_EQ(Value::tuple({}).kind(), Value::Kind::Tuple);
  EXPECT_EQ(Value(Call{"F", {}, {}, -1}).kind(), Value::Kind::Call);
  EXPECT_EQ(Value().kind_name(), "None");
  EXPECT_EQ(Value(false).kind_name(), "bool");
  EXPECT_EQ(Value(1).kind_name(), "int");
  EXPECT_EQ(Value(1.0).kind_name(), "float");
  EXPECT_EQ(Value("").kind_name(), "string");
  EXPECT_EQ(Value::tuple({}).kind_name(), "tuple");
  EXPECT_EQ(Value(Call{"F", {}, {}, -1}).kind_name(), "call");
  EXPECT_EQ(Value(-9).as_int(), -9);
  EXPECT_EQ(Value(4).as_double(), 4.0);
  EXPECT_EQ(Value(0.25).as_double(), 0.25);
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value("abc").as_str(), "abc");
  EXPECT_EQ(ints({1, 2}).items().size(), 2u);
  EXPECT_EQ(Value(Call{"F", {Value(1)}, {}, -1}).call().type, "F");
  EXPECT_EQ(Value().column, -1);
}

TEST(Value, ReprScalars) {
  EXPECT_EQ(Value().repr(), "None");
  EXPECT_EQ(Value(true).repr(), "True");
  EXPECT_EQ(Value(false).repr(), "False");
  EXPECT_EQ(Value(0).repr(), "0");
  EXPECT_EQ(Value(42).repr(), "42");
  EXPECT_EQ(Value(-7).repr(), "-7");
  EXPECT_EQ(Value(std::numeric_limits<int64_t>::max()).repr(), "9223372036854775807");
  EXPECT_EQ(Value(std::numeric_limits<int64_t>::min()).repr(), "-9223372036854775808");
}

TEST(Value, ReprFloatsAsPython) {
  // Expected strings are Python's repr() of the same doubles.
  EXPECT_EQ(Value(0.0001).repr(), "0.0001");
  EXPECT_EQ(Value(1.0).repr(), "1.0");
  EXPECT_EQ(Value(0.0).repr(), "0.0");
  EXPECT_EQ(Value(-0.0).repr(), "-0.0");
  EXPECT_EQ(Value(-2.0).repr(), "-2.0");
  EXPECT_EQ(Value(0.5).repr(), "0.5");
  EXPECT_EQ(Value(0.1).repr(), "0.1");
  EXPECT_EQ(Value(0.75).repr(), "0.75");
  EXPECT_EQ(Value(1e-3).repr(), "0.001");
  EXPECT_EQ(Value(1.0 / 3.0).repr(), "0.3333333333333333");
  EXPECT_EQ(Value(2.0 / 3.0).repr(), "0.6666666666666666");
  EXPECT_EQ(Value(123456789.123).repr(), "123456789.123");
  EXPECT_EQ(Value(1e15).repr(), "1000000000000000.0");
  EXPECT_EQ(Value(1e16).repr(), "1e+16");
  EXPECT_EQ(Value(1e-5).repr(), "1e-05");
  EXPECT_EQ(Value(2.5e-5).repr(), "2.5e-05");
  EXPECT_EQ(Value(1e22).repr(), "1e+22");
  EXPECT_EQ(Value(1.5e300).repr(), "1.5e+300");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()).repr(), "inf");
  EXPECT_EQ(Value(-std::numeric_limits<double>::infinity()).repr(), "-inf");
  EXPECT_EQ(Value(std::nan("")).repr(), "nan");
}

TEST(Value, ReprStringsQuotedWithEscapes) {
  EXPECT_EQ(Value("abc").repr(), "\"abc\"");
  EXPECT_EQ(Value("").repr(), "\"\"");
  EXPECT_EQ(Value("say \"hi\"").repr(), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Value("a\\b").repr(), "\"a\\\\b\"");
  EXPECT_EQ(Value("line1\nline2").repr(), "\"line1\\nline2\"");
  EXPECT_EQ(Value("it's").repr(), "\"it's\"");
}

TEST(Value, ReprTuplesAndCalls) {
  EXPECT_EQ(Value::tuple({}).repr(), "()");
  EXPECT_EQ(ints({1}).repr(), "(1,)");
  EXPECT_EQ(ints({3, 3}).repr(), "(3, 3)");
  EXPECT_EQ(Value::tuple({ints({1, 2}), Value("x"), Value(), Value(0.5)}).repr(), "((1, 2), \"x\", None, 0.5)");
  EXPECT_EQ(Value::tuple({ints({7})}).repr(), "((7,),)");
  EXPECT_EQ(Value(Call{"L2", {Value(0.0001)}, {}, -1}).repr(), "L2(0.0001)");
  EXPECT_EQ((Call{"L2", {Value(0.0001)}, {}, -1}.repr()), "L2(0.0001)");
  EXPECT_EQ(Value(Call{"F", {}, {}, -1}).repr(), "F()");
  EXPECT_EQ(Value(Call{"Conv2D", {Value(32), ints({3, 3})}, {{"padding", Value("same")}, {"use_bias", Value(false)}},
                       -1})
                .repr(),
            "Conv2D(32, (3, 3), padding=\"same\", use_bias=False)");
  EXPECT_EQ(Value(Call{"Dense", {}, {{"kernel_regularizer", Value(Call{"L1L2", {}, {{"l1", Value(1e-5)}}, -1})}}, -1})
                .repr(),
            "Dense(kernel_regularizer=L1L2(l1=1e-05))");
}

TEST(Value, CallKwargLookup) {
  Call c{"Conv", {Value(1)}, {{"a", Value(2)}, {"b", Value("x")}}, -1};
  ASSERT_NE(c.kwarg("b"), nullptr);
  EXPECT_EQ(*c.kwarg("b"), Value("x"));
  EXPECT_EQ(*c.kwarg("a"), Value(2));
  EXPECT_EQ(c.kwarg("c"), nullptr);
}

TEST(Value, Equality) {
  EXPECT_EQ(Value(), Value());
  EXPECT_EQ(Value(3), Value(int64_t(3)));
  EXPECT_NE(Value(3), Value(4));
  EXPECT_NE(Value(1), Value(1.0));  // kinds differ
  EXPECT_NE(Value(true), Value(1));
  EXPECT_NE(Value(false), Value());
  EXPECT_EQ(Value(0.5), Value(0.5));
  EXPECT_NE(Value(0.5), Value(0.25));
  EXPECT_EQ(Value(std::nan("")), Value(std::nan("")));  // the same literal
  EXPECT_EQ(Value("a"), Value(std::string("a")));
  EXPECT_NE(Value("a"), Value("b"));
  EXPECT_EQ(ints({1, 2}), ints({1, 2}));
  EXPECT_NE(ints({1, 2}), ints({2, 1}));
  EXPECT_NE(ints({1}), Value(1));
  EXPECT_NE(ints({1, 2}), ints({1, 2, 3}));
  EXPECT_EQ(Value(Call{"L2", {Value(0.01)}, {}, -1}), Value(Call{"L2", {Value(0.01)}, {}, -1}));
  EXPECT_NE(Value(Call{"L2", {Value(0.01)}, {}, -1}), Value(Call{"L1", {Value(0.01)}, {}, -1}));
  EXPECT_NE(Value(Call{"L2", {Value(0.01)}, {}, -1}), Value(Call{"L2", {Value(0.02)}, {}, -1}));
  EXPECT_NE(Value(Call{"F", {}, {{"a", Value(1)}}, -1}), Value(Call{"F", {}, {{"b", Value(1)}}, -1}));
  // Where a value was parsed is not part of what it is.
  EXPECT_EQ(at(Value(3), 12), Value(3));
  EXPECT_EQ(Value::tuple({at(Value(1), 2)}), ints({1}));
}

TEST(Value, EqualityIgnoresTheColumnOfCallsToo) {
  // A call parsed at column 5 and the same call built in code (column -1) are the same value, as for every
  // other kind (see Value.Equality).
  EXPECT_EQ(Value(Call{"L2", {Value(0.01)}, {}, 5}), Value(Call{"L2", {Value(0.01)}, {}, -1}));
}
