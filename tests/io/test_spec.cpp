#include "expect_error.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
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
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(3, activation='relu7')"), ConfigError,
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
    for (const FieldDoc& f : find_layer_type(type).options)
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

// Keras's input_shape= on the first layer is an Input(...) in front of it (it used to be an unknown argument).
TEST(Spec, KerasInputShapeOnTheFirstLayer) {
  Sequential m = parse_model("Dense(3, input_shape=(4,)) >> Dense(2)");
  ASSERT_TRUE(m.input_shape().has_value());
  EXPECT_EQ(m.input_shape()->str(), "(None, 4)");
  EXPECT_EQ(m.output_shape().str(), "(None, 2)");
  EXPECT_EQ(m.spec(), parse_model("Input((4,)) >> Dense(3) >> Dense(2)").spec());
  Sequential lc = parse_model("LocallyConnected2D(4, (3, 3), input_shape=(8, 8, 3))");
  EXPECT_EQ(lc.output_shape().str(), "(None, 6, 6, 4)");
  EXPECT_THROW_MSG(parse_model("Dense(3) >> Dense(2, input_shape=(3,))"), ConfigError,
                   "Dense (column 13): input_shape must be given on the first layer only");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(2, input_shape=(4,))"), ConfigError,
                   "input_shape must be given on the first layer only (or as Input(shape) in front), got it on layer 1 "
                   "after an Input");
  EXPECT_THROW_MSG(parse_model("Dense(2, input_shape='x')"), ConfigError,
                   "Dense (column 1): argument 'input_shape' must be a tuple of positive ints, got string");
  EXPECT_THROW_MSG(parse_model("Dense(2, input_shape=(0, 3))"), ConfigError,
                   "argument 'input_shape' must contain positive ints, got (0, 3)");
}

// A 2D layer given kernel_size=3 prints (3, 3), as Keras's get_config does; it used to print (3,).
TEST(Spec, SavedSpecPrintsEverySpatialAxis) {
  Sequential m = parse_model(
      "Input((10, 10, 2)) >> Conv2D(2, 3, strides=1, dilation_rate=1) >> LocallyConnected2D(2, 3, strides=1) >> "
      "MaxPooling2D(2, strides=1) >> AveragePooling2D(2) >> Reshape((4, 2)) >> LocallyConnected1D(2, 3)");
  std::string s = m.spec();
  for (const char* part : {"Conv2D(filters=2, kernel_size=(3, 3), strides=(1, 1)", "dilation_rate=(1, 1)",
                           "LocallyConnected2D(filters=2, kernel_size=(3, 3), strides=(1, 1)",
                           "MaxPooling2D(pool_size=(2, 2), strides=(1, 1)",
                           "AveragePooling2D(pool_size=(2, 2), strides=None",
                           "LocallyConnected1D(filters=2, kernel_size=(3,), strides=(1,)"})
    EXPECT_NE(s.find(part), std::string::npos) << part << "\n" << s;
  EXPECT_EQ(s.find("(3,), strides=(1,), padding=\"valid\", data_format=None, activation=None, use_bias=True, "
                   "kernel_initializer=\"glorot_uniform\", bias_initializer=\"zeros\", kernel_regularizer=None, "
                   "bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None, "
                   "implementation=1, dilation_rate=(1, 1)"),
            std::string::npos)
      << s;
  EXPECT_EQ(parse_model(s).spec(), s);
}

// numpy-ml's per-layer optimizer= on a layer without parameters would never be used.
TEST(Spec, OptimizerOnALayerWithoutParametersIsRefused) {
  Sequential ok = parse_model("Input((4,)) >> Dense(2, optimizer='SGD(0.1)')");
  EXPECT_NO_THROW(ok.build(*ok.input_shape(), uint64_t(0)));
  for (const char* text : {"Input((4,)) >> Flatten(optimizer='SGD(0.1)')",
                           "Input((4,)) >> Activation('relu', optimizer='adam')",
                           "Input((4, 3)) >> BatchNorm1D.keras(center=False, scale=False, optimizer='SGD(0.1)')"}) {
    SCOPED_TRACE(text);
    Sequential m = parse_model(text);
    EXPECT_THROW_MSG(m.build(*m.input_shape(), uint64_t(0)), ConfigError,
                     "optimizer must be None for a layer without trainable parameters, got");
  }
  Sequential bn = parse_model("Input((4, 3)) >> BatchNorm1D.keras(center=False, optimizer=None)");
  EXPECT_NO_THROW(bn.build(*bn.input_shape(), uint64_t(0)));
}
