// Merge layers (include/locnet/layers/merge.hpp): values against index-by-index formulas written here (synthetic
// references), double gradient checks through check_layer_many, ties of Maximum/Minimum, graphs from spec text,
// and every ConfigError/ShapeError message.
#include <algorithm>
#include <cmath>
#include <functional>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/merge.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"

using namespace locnet;
using locnet::testing::check_layer_many;
using locnet::testing::random_tensor;

namespace {

std::vector<Tensor> random_inputs(const std::vector<Shape>& shapes, DType dt = DType::f64) {
  std::vector<Tensor> xs;
  for (size_t k = 0; k < shapes.size(); ++k) xs.push_back(random_tensor(shapes[k], dt, 10 + k));
  return xs;
}

// Row-major multi-index of flat index i in shape s.
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.rank());
  for (size_t d = s.rank(); d-- > 0;) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}
int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t i = 0;
  for (size_t d = 0; d < s.rank(); ++d) i = i * s[d] + idx[d];
  return i;
}

// y = layer(xs) built in f64 on the inputs' shapes.
Tensor run(Layer& layer, const std::vector<Tensor>& xs, Mode mode = Mode::Training) {
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) shapes.push_back(x.shape());
  Rng rng(1);
  layer.build_many(shapes, rng, xs[0].dtype());
  return layer.forward_many(xs, mode);
}

}  // namespace

// y[..., off_k + j, ...] = x_k[..., j, ...] on ranks 2 to 4, axis 1 and -1 and one in between; dx_k the slices.
TEST(Concatenate, JoinsAlongTheAxisOnRanks2To4) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3}, {1, -1}}, {{2, 3, 4}, {1, 2, -1, -2}}, {{1, 2, 3, 2}, {1, 2, 3, -1, -3}}};
  for (const auto& [dims, axes] : cases)
    for (int64_t axis : axes) {
      const size_t a = size_t(axis < 0 ? axis + int64_t(dims.size()) : axis);
      std::vector<Shape> shapes;
      for (int64_t size : {2, 1, 3}) shapes.push_back(Shape(dims).with_dim(a, size));  // 3 inputs, a size-1 one
      SCOPED_TRACE(fmt::format("{} axis {}", shapes[0].str(), axis));
      std::vector<Tensor> xs = random_inputs(shapes);
      Concatenate cat(axis);
      Tensor y = run(cat, xs);
      ASSERT_EQ(y.shape(), Shape(dims).with_dim(a, 6));
      for (int64_t i = 0; i < y.numel(); ++i) {
        std::vector<int64_t> idx = unravel(i, y.shape());
        size_t k = 0;
        while (idx[a] >= shapes[k][a]) idx[a] -= shapes[k++][a];
        ASSERT_EQ(y.item(i), xs[k].item(ravel(idx, shapes[k]))) << i;
      }
      std::vector<Tensor> dxs = cat.backward_many(y);
      for (size_t k = 0; k < xs.size(); ++k) EXPECT_TRUE(dxs[k].equal(xs[k])) << "dx of a concatenation is its slice";
      Concatenate fresh(axis);
      check_layer_many(fresh, shapes);
    }
}

TEST(Concatenate, BatchOneUnknownBatchAndAnyDtype) {
  Concatenate cat;
  EXPECT_EQ(cat.output_shape_many(std::vector<Shape>{{Shape::kUnknown, 2, 3}, {Shape::kUnknown, 2, 5}}),
            (Shape{Shape::kUnknown, 2, 8}));
  Concatenate c1(1);
  check_layer_many(c1, {{1, 1}, {1, 1}});
  // Concatenation copies bytes: f32 and f16 alike.
  for (DType dt : {DType::f32, DType::f16}) {
    std::vector<Tensor> xs = random_inputs({{2, 2}, {2, 1}}, dt);
    Concatenate c;
    Tensor y = run(c, xs);
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_EQ(y.item(2), xs[1].item(0));
    EXPECT_EQ(y.item(3), xs[0].item(2));
  }
}

// Each elementwise layer against its formula, 2 and 3 inputs (Subtract: 2), batch 1 and size-1 dims included.
TEST(ElementwiseMerge, ValuesAndGradients) {
  struct Case {
    std::function<std::unique_ptr<Layer>()> make;
    std::function<double(const std::vector<double>&)> f;
    size_t max_inputs;
  };
  const auto sum = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s;
  };
  const Case cases[] = {
      {[] { return std::make_unique<Add>(); }, sum, 3},
      {[] { return std::make_unique<Subtract>(); }, [](const std::vector<double>& v) { return v[0] - v[1]; }, 2},
      {[] { return std::make_unique<Multiply>(); },
       [](const std::vector<double>& v) {
         double p = 1;
         for (double x : v) p *= x;
         return p;
       },
       3},
      {[] { return std::make_unique<Average>(); }, [&](const std::vector<double>& v) { return sum(v) / double(v.size()); },
       3},
      {[] { return std::make_unique<Maximum>(); },
       [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }, 3},
      {[] { return std::make_unique<Minimum>(); },
       [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }, 3},
  };
  for (const Case& c : cases)
    for (const Shape& s : {Shape{1, 5}, Shape{3, 1, 4}, Shape{2, 3, 1, 2}})
      for (size_t n = 2; n <= c.max_inputs; ++n) {
        auto layer = c.make();
        SCOPED_TRACE(fmt::format("{} {} x{}", layer->type(), s.str(), n));
        std::vector<Tensor> xs = random_inputs(std::vector<Shape>(n, s));
        Tensor y = run(*layer, xs);
        ASSERT_EQ(y.shape(), s);
        for (int64_t i = 0; i < y.numel(); ++i) {
          std::vector<double> v;
          for (const Tensor& x : xs) v.push_back(x.item(i));
          ASSERT_DOUBLE_EQ(y.item(i), c.f(v)) << i;
        }
        auto fresh = c.make();
        check_layer_many(*fresh, std::vector<Shape>(n, s));
      }
}

TEST(ElementwiseMerge, MaximumAndMinimumGiveTiesToTheFirstInput) {
  for (bool max : {true, false}) {
    std::unique_ptr<Layer> layer = max ? std::unique_ptr<Layer>(std::make_unique<Maximum>())
                                       : std::unique_ptr<Layer>(std::make_unique<Minimum>());
    Tensor a = Tensor::from<double>({1, 2, 3}, {1, 3}), b = Tensor::from<double>({1, 5, 0}, {1, 3});
    Tensor y = run(*layer, {a, b, a});
    EXPECT_EQ(y.to_vector(), max ? std::vector<double>({1, 5, 3}) : std::vector<double>({1, 2, 0}));
    std::vector<Tensor> d = layer->backward_many(Tensor::from<double>({10, 20, 30}, {1, 3}));
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].to_vector(), max ? std::vector<double>({10, 0, 30}) : std::vector<double>({10, 20, 0}));
    EXPECT_EQ(d[1].to_vector(), max ? std::vector<double>({0, 20, 0}) : std::vector<double>({0, 0, 30}));
    EXPECT_EQ(d[2].to_vector(), std::vector<double>({0, 0, 0})) << "a tie goes to the first input only";
  }
}

TEST(ElementwiseMerge, MultiplyByZeroStillPassesGradients) {
  Multiply m;
  Tensor a = Tensor::from<double>({0, 2}, {1, 2}), b = Tensor::from<double>({3, 0}, {1, 2});
  (void)run(m, {a, b});
  std::vector<Tensor> d = m.backward_many(Tensor::from<double>({1, 1}, {1, 2}));
  EXPECT_EQ(d[0].to_vector(), std::vector<double>({3, 0}));
  EXPECT_EQ(d[1].to_vector(), std::vector<double>({0, 2}));
}

// Graphs: neupy's parallel branches and Keras functional text; gradients of a shared input add up.
TEST(MergeGraph, SpecTextBuildsRunsAndRoundTrips) {
  Model m = parse_model("Input((4,)) >> [Dense(3), Dense(3)] >> Add()");
  m.build_from_inputs(1);
  Tensor x = random_tensor({2, 4}, DType::f32, 3);
  Tensor y = m.forward(x, Mode::Training);
  Tensor want = m.layer(0).forward(x, Mode::Inference);
  Tensor b = m.layer(1).forward(x, Mode::Inference);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_FLOAT_EQ(float(y.item(i)), float(want.item(i) + b.item(i)));
  EXPECT_EQ(m.backward(Tensor(y.shape())).shape(), x.shape());
  // Profiling's estimate reads both inputs and writes y: (2 * 6 + 6) f32 values.
  EXPECT_EQ(m.layer(2).work(Shape{2, 3}).forward.bytes, 72.0);

  Model f = parse_model(R"(x = Input((5, 5, 2))
a = Conv2D(3, 1)(x)
b = Conv2D(4, 3, padding="same")(x)
c = Concatenate()([a, b])
e = Concatenate(axis=3)([b, a])
d = Subtract()([c, e])
Model(inputs=x, outputs=d))");
  EXPECT_EQ(f.output_shape(), (Shape{Shape::kUnknown, 5, 5, 7}));
  Model again = parse_model(f.spec());
  EXPECT_EQ(again.spec(), f.spec());
  EXPECT_EQ(again.layer("concatenate_2").config(), f.layer("concatenate_2").config());
  EXPECT_EQ(f.layer("concatenate_2").config().repr(), R"(Concatenate(axis=3, name="concatenate_2"))");
}

TEST(MergeErrors, Messages) {
  EXPECT_THROW_MSG(Concatenate(0), ConfigError, "Concatenate: axis must not be 0 (the batch axis), got 0");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> [Dense(3), Dense(3)] >> Concatenate(axis=0)"), ConfigError,
                   "Concatenate: axis must not be 0 (the batch axis), got 0");

  // Arity, through the layer and through a Model.
  Rng rng(1);
  const Shape s{2, 3};
  EXPECT_THROW_MSG(Add().build_many(std::vector<Shape>{s}, rng), ShapeError, "(Add): takes 2 or more inputs, got 1");
  EXPECT_THROW_MSG(Subtract().build_many(std::vector<Shape>{s, s, s}, rng), ShapeError,
                   "(Subtract): takes exactly 2 inputs, got 3");
  EXPECT_THROW_MSG(Concatenate().output_shape_many(std::vector<Shape>{}), ShapeError,
                   "(Concatenate): takes 2 or more inputs, got 0");
  Model m;
  NodeId x = m.input({3});
  EXPECT_THROW_MSG(m.add(Add(), {x}), ShapeError, "add_1 (Add): takes 2 or more inputs, got 1");
  EXPECT_THROW_MSG(m.add(Subtract(), {x, x, x}), ShapeError, "(Subtract): takes exactly 2 inputs, got 3");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> Dense(3) >> Maximum()"), ShapeError,
                   "(Maximum): takes 2 or more inputs, got 1");

  // The one-input forms.
  EXPECT_THROW_MSG(Add().output_shape(s), ShapeError, "(Add): takes 2 or more inputs, got 1");
  EXPECT_THROW_MSG(Concatenate().build(s, rng), ShapeError, "(Concatenate): takes 2 or more inputs, got 1");
  Add built;
  built.build_many(std::vector<Shape>{s, s}, rng, DType::f64);
  Tensor t = random_tensor(s, DType::f64, 1);
  EXPECT_THROW_MSG(built.forward(t, Mode::Training), ShapeError, "(Add): takes 2 or more inputs, got 1");
  EXPECT_THROW_MSG(built.backward(t), ShapeError, "(Add): gives one gradient per input: call backward_many");

  // Shapes that do not fit, naming both.
  EXPECT_THROW_MSG(Add().output_shape_many(std::vector<Shape>{{2, 3}, {2, 3}, {2, 4}}), ShapeError,
                   "(Add): inputs must have equal shapes, got (2, 3) (input 0) and (2, 4) (input 2)");
  EXPECT_THROW_MSG(Multiply().output_shape_many(std::vector<Shape>{{2, 3}, {2, 3, 1}}), ShapeError,
                   "(Multiply): inputs must have equal shapes, got (2, 3) (input 0) and (2, 3, 1) (input 1)");
  EXPECT_THROW_MSG(Add().output_shape_many(std::vector<Shape>{{2, 3}, {4, 3}}), ShapeError,
                   "(Add): inputs must have equal batch sizes, got (2, 3) (input 0) and (4, 3) (input 1)");
  EXPECT_THROW_MSG(Concatenate().output_shape_many(std::vector<Shape>{{2, 3, 4}, {2, 5, 4}}), ShapeError,
                   "(Concatenate): inputs must have equal shapes except on axis -1, got (2, 3, 4) (input 0) and "
                   "(2, 5, 4) (input 1)");
  EXPECT_THROW_MSG(Concatenate(1).output_shape_many(std::vector<Shape>{{2, 3, 4}, {2, 3}}), ShapeError,
                   "(Concatenate): inputs must have equal shapes except on axis 1, got (2, 3, 4) (input 0) and "
                   "(2, 3) (input 1)");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> [Dense(3), Dense(2)] >> Average()"), ShapeError,
                   "inputs must have equal shapes, got (None, 3) (input 0) and (None, 2) (input 1)");

  // Axes outside the rank.
  EXPECT_THROW_MSG(Concatenate(2).output_shape_many(std::vector<Shape>{{2, 3}, {2, 3}}), ShapeError,
                   "(Concatenate): axis must name a non-batch axis of the rank-2 inputs (1 to 1 or -1 to -1), got 2");
  EXPECT_THROW_MSG(Concatenate(-3).output_shape_many(std::vector<Shape>{{2, 3, 4}, {2, 3, 4}}), ShapeError,
                   "axis must name a non-batch axis of the rank-3 inputs (1 to 2 or -2 to -1), got -3");
  EXPECT_THROW_MSG(Concatenate().output_shape_many(std::vector<Shape>{{2}, {2}}), ShapeError,
                   "(Concatenate): inputs must have rank >= 2 (a batch axis and one to join along), got rank 1");

  // Inputs unlike those built with, dtypes, backward order.
  EXPECT_THROW_MSG(built.forward_many(std::vector<Tensor>{t, random_tensor({2, 4}, DType::f64, 2)}, Mode::Training),
                   ShapeError, "(Add): input 1 shape must be (2, 3) (as built), got (2, 4)");
  EXPECT_THROW_MSG(built.forward_many(std::vector<Tensor>{t, t.to(DType::f32)}, Mode::Training), ShapeError,
                   "(Add): input 1 dtype must be f64 (as built), got f32");
  EXPECT_THROW_MSG(built.forward_many(std::vector<Tensor>{t, t, t}, Mode::Training), ShapeError,
                   "(Add): takes the 2 inputs it was built with, got 3");
  EXPECT_THROW_MSG(built.forward_many(std::vector<Tensor>{t, random_tensor({3, 3}, DType::f64, 2)}, Mode::Training),
                   ShapeError, "(Add): inputs must have equal batch sizes, got (2, 3) (input 0) and (3, 3) (input 1)");
  EXPECT_THROW_MSG(Add().forward_many(std::vector<Tensor>{t, t}, Mode::Training), ConfigError,
                   "(Add): layer must be built before forward, got an unbuilt layer");
  EXPECT_THROW_MSG(built.backward_many(t), ConfigError, "(Add): backward must follow a training-mode forward");
  (void)built.forward_many(std::vector<Tensor>{t, t}, Mode::Training);
  EXPECT_THROW_MSG(built.backward_many(random_tensor({2, 4}, DType::f64, 2)), ShapeError,
                   "(Add): output gradient shape must be (2, 3), got (2, 4)");
  EXPECT_THROW_MSG(Maximum().build_many(std::vector<Shape>{s, s}, rng, DType::f16), NotSupported,
                   "(Maximum): dtype must be f32 or f64, got f16");
}

// y[n, i..., j...] = sum_c x_0[n, i... with c at a_0] x_1[n, j... with c at a_1], from multi-indices here.
TEST(Dot, ValuesShapesAndGradients) {
  struct Case {
    Shape s0, s1;
    std::vector<int64_t> axes;
    Shape out;
  };
  const Case cases[] = {{{2, 3}, {2, 3}, {1}, {2, 1}},
                        {{1, 3}, {1, 3}, {-1}, {1, 1}},
                        {{2, 3, 4}, {2, 5, 4}, {2}, {2, 3, 5}},
                        {{2, 4, 3}, {2, 4, 1}, {1}, {2, 3, 1}},
                        {{2, 3, 4}, {2, 4}, {2, 1}, {2, 3}},
                        {{1, 2, 3, 2}, {1, 3, 2}, {-2, 1}, {1, 2, 2, 2}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} . {}", c.s0.str(), c.s1.str()));
    std::vector<Tensor> xs = random_inputs({c.s0, c.s1});
    Dot dot(c.axes);
    Tensor y = run(dot, xs);
    ASSERT_EQ(y.shape(), c.out);
    size_t axis[2];
    for (size_t k = 0; k < 2; ++k) {
      const int64_t a = c.axes[c.axes.size() == 1 ? 0 : k], r = int64_t((k ? c.s1 : c.s0).rank());
      axis[k] = size_t(a < 0 ? a + r : a);
    }
    const size_t ni = c.s0.rank() - 2, nj = c.s1.rank() - 2;
    for (int64_t e = 0; e < y.numel(); ++e) {
      const std::vector<int64_t> idx = unravel(e, y.shape());
      double want = 0;
      for (int64_t ch = 0; ch < c.s0[axis[0]]; ++ch) {
        std::vector<int64_t> i0{idx[0]}, i1{idx[0]};
        i0.insert(i0.end(), idx.begin() + 1, idx.begin() + 1 + int64_t(ni));
        i1.insert(i1.end(), idx.begin() + 1 + int64_t(ni), idx.begin() + 1 + int64_t(ni + nj));
        i0.insert(i0.begin() + int64_t(axis[0]), ch);
        i1.insert(i1.begin() + int64_t(axis[1]), ch);
        want += xs[0].item(ravel(i0, c.s0)) * xs[1].item(ravel(i1, c.s1));
      }
      ASSERT_NEAR(y.item(e), want, 1e-12) << e;
    }
    for (bool normalize : {false, true}) {
      Dot fresh(c.axes, normalize);
      check_layer_many(fresh, {c.s0, c.s1});
    }
  }
  // normalize=True: the cosine of the two vectors; a zero vector stays 0 (Keras's epsilon), with finite gradients.
  Dot cosine({1}, true);
  Tensor a = Tensor::from<double>({3, 4, 0, 0}, {2, 2}), b = Tensor::from<double>({4, 3, 1, 0}, {2, 2});
  Tensor y = run(cosine, {a, b});
  EXPECT_NEAR(y.item(0), 24.0 / 25.0, 1e-15);
  EXPECT_EQ(y.item(1), 0.0);
  for (const Tensor& d : cosine.backward_many(Tensor::from<double>({1, 1}, {2, 1})))
    for (double v : d.to_vector()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Dot, Errors) {
  EXPECT_THROW_MSG(Dot(std::vector<int64_t>{0}), ConfigError, "Dot: axes must not name the batch axis 0, got (0,)");
  EXPECT_THROW_MSG(Dot(std::vector<int64_t>{1, 2, 3}), ConfigError,
                   "Dot: axes must be an int or a pair of ints, got (1, 2, 3)");
  EXPECT_THROW_MSG(parse_model("Input((4,)) >> [Dense(3), Dense(3)] >> Dot()"), ConfigError, "axes");
  EXPECT_THROW_MSG(Dot({1}).output_shape_many(std::vector<Shape>{{2, 3}, {2, 4}}), ShapeError,
                   "(Dot): inputs must have equal sizes on the dot axes 1 and 1, got (2, 3) (input 0) and (2, 4) "
                   "(input 1)");
  EXPECT_THROW_MSG(Dot({1, 3}).output_shape_many(std::vector<Shape>{{2, 3}, {2, 4, 3}}), ShapeError,
                   "(Dot): axes must name a non-batch axis of each input, got 3 for input 1 of shape (2, 4, 3)");
  EXPECT_THROW_MSG(Dot({1}).output_shape_many(std::vector<Shape>{{2, 3}, {2, 3}, {2, 3}}), ShapeError,
                   "(Dot): takes exactly 2 inputs, got 3");
  Rng rng(1);
  EXPECT_THROW_MSG(Dot({1}).build_many(std::vector<Shape>{{2, 3}, {2, 3}}, rng, DType::bf16), NotSupported,
                   "(Dot): dtype must be f32 or f64, got bf16");
}

// One node feeding both inputs: the Model sums the two input gradients, d(x * x) = 2 x dy.
TEST(MergeGraph, TheSameNodeTwice) {
  Model m;
  NodeId x = m.input({3});
  m.add(Multiply(), {x, x});
  m.build_from_inputs(0, DType::f64);
  Tensor xv = random_tensor({2, 3}, DType::f64, 5), dy = random_tensor({2, 3}, DType::f64, 6);
  Tensor y = m.forward(xv, Mode::Training);
  Tensor dx = m.backward(dy);
  for (int64_t i = 0; i < xv.numel(); ++i) {
    EXPECT_DOUBLE_EQ(y.item(i), xv.item(i) * xv.item(i));
    EXPECT_DOUBLE_EQ(dx.item(i), 2 * xv.item(i) * dy.item(i));
  }
}
