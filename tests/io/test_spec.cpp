#include "expect_error.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;

TEST(Spec, ParsesPythonLiterals) {
  EXPECT_EQ(parse_value("None"), Value());
  EXPECT_EQ(parse_value("True"), Value(true));
  EXPECT_EQ(parse_value("-12"), Value(int64_t(-12)));
  EXPECT_EQ(parse_value("1e-4"), Value(1e-4));
  EXPECT_EQ(parse_value(".5"), Value(0.5));
  EXPECT_EQ(parse_value("1_000"), Value(int64_t(1000)));
  EXPECT_EQ(parse_value("'it\\'s'"), Value("it's"));
  EXPECT_EQ(parse_value("\"a\\\"b\""), Value("a\"b"));
  EXPECT_EQ(parse_value("(3, 3)"), Value::tuple({Value(3), Value(3)}));
  EXPECT_EQ(parse_value("(3,)"), Value::tuple({Value(3)}));
  EXPECT_EQ(parse_value("(3)"), Value(3));
  EXPECT_EQ(parse_value("[1, 2,]"), Value::tuple({Value(1), Value(2)}));
  EXPECT_EQ(parse_value("()"), Value::tuple({}));
  Value call = parse_value("L2(1e-4, mode='x')");
  ASSERT_EQ(call.kind(), Value::Kind::Call);
  EXPECT_EQ(call.call().type, "L2");
  EXPECT_EQ(call.call().args.at(0), Value(1e-4));
  EXPECT_EQ(call.call().kwargs.at(0).first, "mode");
}

TEST(Spec, ReprParsesBack) {
  for (const char* text : {"None", "True", "False", "-3", "0.0001", "1.0", "\"a b\"", "(1,)", "(2, (3, 4))",
                           "L2(0.0001)", "LocalResponseNorm.pytorch(size=4)", "1e-05", "123456789.125"}) {
    Value v = parse_value(text);
    EXPECT_EQ(parse_value(v.repr()), v) << text << " -> " << v.repr();
  }
}

TEST(Spec, ChainsAndDottedNames) {
  auto calls = parse_chain("Input((28, 28, 1)) >> Dense(10, activation=\"relu\", name=\"fc\")>>Foo.bar()");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].type, "Input");
  EXPECT_EQ(calls[1].kwargs.size(), 2u);
  EXPECT_EQ(calls[1].column, 23);
  EXPECT_EQ(calls[2].type, "Foo.bar");
}

TEST(Spec, SyntaxErrorsNameTheColumn) {
  EXPECT_THROW_MSG(parse_chain("Dense(10"), ConfigError, "spec column 9: expected ',' or ')', got the end");
  EXPECT_THROW_MSG(parse_chain("Dense(10) > Flatten()"), ConfigError, "spec column 11: expected '>>'");
  EXPECT_THROW_MSG(parse_chain(""), ConfigError, "expected a layer call");
  EXPECT_THROW_MSG(parse_chain("3 >> Dense(1)"), ConfigError, "spec column 1: expected a layer call");
  EXPECT_THROW_MSG(parse_chain("Dense(units=1, 2)"), ConfigError, "positional arguments come first");
  EXPECT_THROW_MSG(parse_chain("Dense(1, a=1, a=2)"), ConfigError, "'a' twice");
  EXPECT_THROW_MSG(parse_value("'abc"), ConfigError, "a closing '");
  EXPECT_THROW_MSG(parse_value("relu"), ConfigError, "name 'relu'");
  EXPECT_THROW_MSG(parse_value("99999999999999999999"), ConfigError, "fits in 64 bits");
  EXPECT_THROW_MSG(parse_value("1e999"), ConfigError, "a finite number");
  EXPECT_THROW_MSG(parse_value("1.2.3"), ConfigError, "a number");
  EXPECT_THROW_MSG(parse_value("(1, 2) 3"), ConfigError, "the end of the text");
}

TEST(Spec, DeepNestingIsRejectedNotRecursed) {
  std::string deep(100000, '(');
  EXPECT_THROW_MSG(parse_value(deep), ConfigError, "levels of nesting");
  std::string ok = std::string(10, '(') + "1" + std::string(10, ')');
  EXPECT_EQ(parse_value(ok), Value(1));
}

TEST(Spec, LayerErrorsNameLayerArgumentColumnAndExpectation) {
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(\"ten\")"), ConfigError,
                   "Dense (column 16): argument 'units' must be int, got string \"ten\" at column 22");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(10, activaton='relu')"), ConfigError,
                   "Dense (column 16): unknown argument 'activaton'; expected one of: units, activation");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense()"), ConfigError, "argument 'units' is required");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(1, None, True, 'zeros', 'zeros', None, None, None, None, None, 7)"),
                   ConfigError, "at most 10 positional arguments, got 11");
  // Keras's positional order: the sixth argument is kernel_regularizer.
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(1, None, True, 'zeros', 'zeros', 7)"), ConfigError,
                   "Dense: kernel_regularizer must be None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or L1L2(l1, l2), got 7");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(0)"), ConfigError, "units must be a positive integer, got 0");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(3, activation='swish')"), ConfigError,
                   "activation must be one of");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Densely(3)"), ConfigError, "unknown layer type 'Densely'");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(3, name=5)"), ConfigError, "argument 'name' must be string");
  EXPECT_THROW_MSG(parse_model("Input((4, -1)) >> Dense(3)"), ConfigError, "positive ints");
  EXPECT_THROW_MSG(parse_model("Input('a') >> Dense(3)"), ConfigError, "argument 'shape' must be");
  EXPECT_THROW_MSG(parse_model("Dense(3) >> Input((4,))"), ConfigError, "Input must come first");
  EXPECT_THROW_MSG(parse_model("Input(()) >> Dense(2)"), ShapeError, "cannot connect the input");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Flatten(3)"), ConfigError, "at most 0 positional arguments");
}

TEST(Spec, EveryRegisteredTypeRoundTripsThroughConfig) {
  for (const std::string& type : layer_type_names()) {
    SCOPED_TRACE(type);
    // Build from the documented defaults, filling required ints with 3, floats with 0.5 and strings with a valid value.
    Call call{type, {}, {}, -1};
    for (const FieldDoc& f : find_layer_type(type).options())
      if (f.required)
        call.kwargs.emplace_back(f.name, f.type.starts_with("int") ? Value(3)
                                         : f.type == "float"       ? Value(0.5)
                                                                   : Value("relu"));
    auto layer = make_layer(call);
    layer->set_name("x");
    Call c = layer->config();
    auto again = make_layer(parse_value(c.repr()).call());
    again->set_name(again->name_pattern());
    EXPECT_EQ(again->config(), c);
  }
}
