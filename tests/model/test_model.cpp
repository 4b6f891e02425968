// Graph models (model/model.hpp): wiring, gradient accumulation, freeing, multi-output, spec text and summary.
// Every expected value is computed here from the layers' own forward passes or by central differences in double.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// A two-input layer local to these tests (the library's merge layers have their own): y = a + 2 b, so the two
// input gradients differ and a swapped input order shows.
class Blend : public Layer {
 public:
  Blend() : Layer("blend") {}
  std::string type() const override { return "Blend"; }
  Arity arity() const override { return {2, 2}; }
  Shape output_shape(const Shape&) const override { raise<ShapeError>("Blend takes 2 inputs"); }
  Shape output_shape_many(std::span<const Shape> in) const override {
    check_arity(in.size());
    if (!(in[0] == in[1])) raise<ShapeError>("Blend: shapes differ, {} and {}", in[0].str(), in[1].str());
    return in[0];
  }
  Tensor forward(const Tensor&, Mode) override { raise<ShapeError>("Blend takes 2 inputs"); }
  Tensor backward(const Tensor&) override { raise<ShapeError>("Blend takes 2 inputs"); }
  Tensor forward_many(std::span<const Tensor> xs, Mode) override {
    check_arity(xs.size());
    Tensor y = xs[0].clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.set(i, xs[0].item(i) + 2 * xs[1].item(i));
    return y;
  }
  std::vector<Tensor> backward_many(const Tensor& dy) override {
    Tensor db = dy.clone();
    for (int64_t i = 0; i < dy.numel(); ++i) db.set(i, 2 * dy.item(i));
    return {dy.clone(), db};
  }
  Call config() const override { return make_call({}); }
  std::unique_ptr<Layer> clone() const override { return clone_of(*this); }

 protected:
  void do_build(const Shape&, Rng&) override {}
  void do_build_many(std::span<const Shape>, Rng&) override {}
};

// x -> h -> {a, b} -> blend(a, b) -> out: h feeds two consumers, so its gradient is a sum.
struct Diamond {
  Model m;
  NodeId x, h, a, b, blend, out;
  Diamond() {
    x = m.input({4}, "x");
    h = m.add(Dense(3, "tanh", "h"), {x});
    a = m.add(Dense(3, std::nullopt, "a"), {h});
    b = m.add(Dense(3, "tanh", "b"), {h});
    blend = m.add(Blend(), {a, b});
    out = m.add(Dense(2, std::nullopt, "out"), {blend});
  }
};

// sum(model(x) * dy), the scalar whose gradient backward(dy) returns.
double dot_loss(Model& m, const Tensor& x, const Tensor& dy) {
  Tensor y = m.forward(x, Mode::Inference);
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += y.item(i) * dy.item(i);
  return s;
}

// Central difference of dot_loss with respect to element i of `t` (the input or a parameter).
double numeric_grad(Model& m, Tensor& t, int64_t i, const Tensor& x, const Tensor& dy) {
  const double eps = 1e-6, v = t.item(i);
  t.set(i, v + eps);
  const double up = dot_loss(m, x, dy);
  t.set(i, v - eps);
  const double down = dot_loss(m, x, dy);
  t.set(i, v);
  return (up - down) / (2 * eps);
}

}  // namespace

TEST(Model, GraphForwardIsTheLayersComposed) {
  Diamond d;
  EXPECT_FALSE(d.m.is_chain());
  EXPECT_EQ(d.m.output_shape().str(), "(None, 2)");
  d.m.build(Shape{Shape::kUnknown, 4}, uint64_t(3), DType::f64);
  Tensor x = random_tensor(Shape{5, 4}, DType::f64, 1);
  Tensor y = d.m.forward(x, Mode::Inference);
  Tensor h = d.m.layer("h").forward(x, Mode::Inference);
  Tensor a = d.m.layer("a").forward(h, Mode::Inference), b = d.m.layer("b").forward(h, Mode::Inference);
  Tensor ab[] = {a, b};
  Tensor want = d.m.layer("out").forward(d.m.layer("blend").forward_many(ab, Mode::Inference), Mode::Inference);
  EXPECT_LE(max_scaled_error(y, want, 1e-14, 1e-15), 1.0);
}

TEST(Model, BackwardSumsTheGradientsOfASharedNode) {
  Diamond d;
  d.m.build(Shape{Shape::kUnknown, 4}, uint64_t(3), DType::f64);
  Tensor x = random_tensor(Shape{3, 4}, DType::f64, 1), dy = random_tensor(Shape{3, 2}, DType::f64, 2);
  d.m.forward(x, Mode::Training);
  d.m.zero_grad();
  Tensor dx = d.m.backward(dy);
  ASSERT_EQ(dx.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_NEAR(dx.item(i), numeric_grad(d.m, x, i, x, dy), 1e-7) << "dx[" << i << "]";
  // h's kernel gets its gradient through both a and b.
  Param* kernel = d.m.layer("h").params()[0];
  for (int64_t i = 0; i < kernel->value.numel(); ++i)
    EXPECT_NEAR(kernel->grad.item(i), numeric_grad(d.m, kernel->value, i, x, dy), 1e-7) << "h.kernel[" << i << "]";
}

TEST(Model, SeveralInputsAndOutputs) {
  Model m;
  NodeId p = m.input({3}, "p"), q = m.input({3}, "q");
  NodeId s = m.add(Blend(), {p, q});
  NodeId f = m.add(Dense(2, std::nullopt, "f"), {s});
  m.set_outputs({f, s});
  m.set_inputs({q, p});  // forward takes q first
  m.build_from_inputs(1, DType::f64);
  Tensor tq = random_tensor(Shape{2, 3}, DType::f64, 1), tp = random_tensor(Shape{2, 3}, DType::f64, 2);
  std::vector<Tensor> ys = m.forward_many({tq, tp}, Mode::Training);
  ASSERT_EQ(ys.size(), 2u);
  for (int64_t i = 0; i < tp.numel(); ++i) EXPECT_DOUBLE_EQ(ys[1].item(i), tp.item(i) + 2 * tq.item(i));
  Tensor df = Tensor(Shape{2, 2}, DType::f64), ds = random_tensor(Shape{2, 3}, DType::f64, 3);
  df.fill(0.0);
  std::vector<Tensor> dxs = m.backward_many({df, ds});
  ASSERT_EQ(dxs.size(), 2u);
  for (int64_t i = 0; i < ds.numel(); ++i) {
    EXPECT_DOUBLE_EQ(dxs[0].item(i), 2 * ds.item(i)) << "q's gradient";
    EXPECT_DOUBLE_EQ(dxs[1].item(i), ds.item(i)) << "p's gradient";
  }
  EXPECT_THROW_MSG(m.forward_many({tq}, Mode::Inference), ShapeError, "model: takes 2 inputs, got 1");
  EXPECT_THROW_MSG(m.backward_many({df}), ShapeError, "backward takes one gradient per output (2), got 1");
  EXPECT_THROW_MSG(m.input_shape(), ConfigError, "");
}

TEST(Model, ArityAndLinkErrorsNameTheNodes) {
  Model m;
  NodeId x = m.input({3}, "x");
  EXPECT_THROW_MSG(m.add(Blend(), {x}), ShapeError, "takes exactly 2 inputs, got 1");
  EXPECT_THROW_MSG(m.add(Dense(2), {x, x}), ShapeError, "takes exactly 1 input, got 2");
  NodeId w = m.add(Dense(5, std::nullopt, "w"), {x});
  EXPECT_THROW_MSG(m.add(Blend(), {x, w}), ShapeError, "Blend: shapes differ, (None, 3) and (None, 5)");
  EXPECT_THROW_MSG(m.add(Dense(2), {NodeId(7)}), ConfigError, "input node must be one of 0..1, got 7");
}

// The executor frees each intermediate after its last consumer: the peak is what the diamond holds at the blend.
TEST(Model, PeakForwardMemoryCountsWhatIsAlive) {
  Model m;
  NodeId x = m.input({4});
  NodeId a = m.add(Dense(100), {x}), b = m.add(Dense(100), {x});
  m.add(Dense(1), {m.add(Blend(), {a, b})});
  // x (16 B) until b ran; a and b (400 B each) until the blend ran; the blend's output (400 B) with them.
  EXPECT_EQ(m.forward_peak_bytes({Shape{1, 4}}), 1200);
  EXPECT_EQ(m.forward_peak_bytes({Shape{2, 4}}, DType::f64), 2 * 2 * 1200);
  Model chain = Input({4}) >> Dense(8) >> Dense(2);
  EXPECT_EQ(chain.forward_peak_bytes({Shape{1, 4}}), 16 + 32);
  EXPECT_NE(m.summary().find("Peak forward memory: 1.2 KiB per sample"), std::string::npos) << m.summary();
}

TEST(Model, FunctionalSpecRoundTripsAndShowsConnections) {
  const char* text = R"(# a diamond
x = Input((4,), name="img")
h = Dense(3, activation="tanh")(x)
a = Dense(3, name="left")(h); b = Dense(3)(h)
Model(inputs=x, outputs=[a, b])
)";
  Model m = parse_model(text);
  EXPECT_FALSE(m.is_chain());
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.node_name(m.outputs()[0]), "left");
  const std::string spec = m.spec();
  EXPECT_EQ(parse_model(spec).spec(), spec) << spec;
  const std::string s = m.summary();
  EXPECT_NE(s.find("Model: \"model\""), std::string::npos) << s;
  EXPECT_NE(s.find("Connected to"), std::string::npos) << s;
  EXPECT_NE(s.find("img (InputLayer)"), std::string::npos) << s;
  EXPECT_NE(s.find("left (Dense)      (None, 3)          12  ['dense_1[0][0]']"), std::string::npos) << s;
  // A chain keeps Keras's Sequential table: no Connected-to column.
  EXPECT_EQ(parse_model("Input((4,)) >> Dense(2)").summary().find("Connected to"), std::string::npos);
}

// neupy's parallel branches: each list item runs from the same node; the merge layer after them takes all.
TEST(Model, NeupyBranchesParseToTheSameGraphAsFunctionalText) {
  Model m = parse_model(
      "Input((6, 6, 2)) >> [Conv2D(3, 1), Conv2D(4, 3, padding='same') >> Activation('relu'), Identity()] >> "
      "Concatenate() >> Conv2D(2, 1)");
  EXPECT_FALSE(m.is_chain());
  EXPECT_EQ(m.output_shape().str(), "(None, 6, 6, 2)");
  const Layer* concat = m.node_layer(m.node("concatenate_1"));
  ASSERT_NE(concat, nullptr);
  EXPECT_EQ(concat->arity().max, SIZE_MAX);
  ASSERT_EQ(m.node_inputs(m.node("concatenate_1")).size(), 3u);
  EXPECT_EQ(m.node_name(m.node_inputs(m.node("concatenate_1"))[1]), "activation_1");
  Model f = parse_model(m.spec());
  EXPECT_EQ(f.spec(), m.spec());
  m.build_from_inputs(5, DType::f64);
  f.build_from_inputs(5, DType::f64);
  Tensor x = random_tensor(Shape{2, 6, 6, 2}, DType::f64, 1);
  EXPECT_TRUE(f.forward(x, Mode::Inference).equal(m.forward(x, Mode::Inference)));
  // A branch list must be followed by a layer that takes several inputs.
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> [Dense(2), Dense(2)] >> Dense(1)"), ShapeError,
                   "takes exactly 1 input, got 2");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> [Dense(2), Dense(3)] >> Add()"), ShapeError, "(None, 2)");
}

TEST(Model, ChainFromANamedNode) {
  Model m = parse_model("x = Input((4,))\ny = x >> Dense(3) >> Dense(2, name=\"top\")\n");
  EXPECT_TRUE(m.is_chain());
  EXPECT_EQ(m.output_shape().str(), "(None, 2)");
  EXPECT_EQ(m.layer(1).name(), "top");
}

TEST(Model, SpecErrorsNameLineAndColumn) {
  EXPECT_THROW_MSG(parse_model("x = Input((4,))\nh = Dense(3)(y)"), ConfigError,
                   "spec line 2, column 14: name 'y' is not defined; defined: x");
  EXPECT_THROW_MSG(parse_model("x = Input((4,))\nh = Dense(3)(x)\na = Dnse(2)(h)"), ConfigError,
                   "spec line 3: spec (column 5): unknown layer type 'Dnse'");
  EXPECT_THROW_MSG(parse_model("x = Input((4,))\nh = Dense(3, foo=2)(x)"), ConfigError,
                   "spec line 2: Dense (column 5): unknown argument 'foo'");
  // Found by fuzzing: a literal followed by '(' was taken for a layer call.
  EXPECT_THROW_MSG(parse_model("False((3, 3, 4)) >> Dense(2)"), ConfigError,
                   "expected a layer call such as Dense(10), a name or [branches]");
  EXPECT_THROW_MSG(parse_model("x = Input((4,))\nModel(inputs=x, outputs=x)\nh = Dense(3)(x)"), ConfigError,
                   "Model(...) must be the last statement");
  EXPECT_THROW_MSG(parse_model("x = Input((4,))\nh = Dense(3)(x)\nh = Dense(3, name=\"dense_1\")(x)"), ConfigError,
                   "spec line 3: ");
}

TEST(Model, SvgIsWellFormedAndNamesEveryNode) {
  Model m = parse_model("x = Input((4,), name=\"a<b & c\")\nh = Dense(3)(x)\nModel(inputs=x, outputs=h)");
  const std::string svg = m.svg();
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("a&lt;b &amp; c"), std::string::npos) << "names are escaped";
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("dense_1"), std::string::npos);
  EXPECT_NE(svg.find("<polyline "), std::string::npos) << "one arrow";
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(Model, CopyKeepsTheGraph) {
  Diamond d;
  d.m.build(Shape{Shape::kUnknown, 4}, uint64_t(1), DType::f64);
  Model c = d.m;
  Tensor x = random_tensor(Shape{2, 4}, DType::f64, 1);
  EXPECT_TRUE(c.forward(x, Mode::Inference).equal(d.m.forward(x, Mode::Inference)));
  c.layer("h").params()[0]->value.fill(0.5);
  EXPECT_FALSE(c.forward(x, Mode::Inference).equal(d.m.forward(x, Mode::Inference))) << "the copy is deep";
  EXPECT_EQ(c.spec(), d.m.spec());
}

TEST(Model, AnInputOfAnotherDtypeIsAnErrorNotARebuild) {
  Model m = parse_model("Input((4,)) >> Dense(3)");
  m.build_from_inputs(7);
  const Tensor w = m.layer(0).params()[0]->value.clone();
  Tensor x64(Shape{2, 4}, DType::f64);
  EXPECT_THROW_MSG(m.forward(x64, Mode::Inference), ShapeError,
                   "model: built for f32 inputs, got f64; build it for f64 or convert the input");
  const Tensor after = m.layer(0).params()[0]->value;
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_EQ(after.data<float>()[i], w.data<float>()[i]);
}
