// The catalog (include/locnet/core/catalog.hpp): every kind lists its types, aliases resolve, every declared type
// of every kind round-trips config() -> spec text -> object, and unknown names list the known ones.
#include "locnet/core/catalog.hpp"

#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;

namespace {

// A call of the entry's type with its defaults, required options filled: ints 3, floats 0.5, strings "relu".
Call default_call(const CatalogEntry& e) {
  Call call{e.name, {}, {}, -1};
  for (const FieldDoc& f : e.options)
    if (f.required)
      call.kwargs.emplace_back(f.name, f.type.starts_with("int") ? Value(3)
                                       : f.type == "float"       ? Value(0.5)
                                                                 : Value("relu"));
  return call;
}

// A layer's config() carries its name, which a model resolves; alone, it keeps its pattern.
Call config_of(const CatalogObject& o) {
  if (auto* layer = dynamic_cast<const Layer*>(&o)) {
    auto copy = layer->clone();
    copy->set_name(copy->name_pattern().empty() ? "x" : copy->name_pattern());
    return copy->config();
  }
  return o.config();
}

}  // namespace

TEST(Catalog, EveryKindListsItsTypes) {
  const std::pair<Kind, std::vector<const char*>> expected[] = {
      {Kind::layer, {"Dense", "Conv2D", "LocalResponseNorm.pytorch", "BatchNorm2D.keras", "LocallyConnected2D"}},
      {Kind::optimizer, {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"}},
      {Kind::schedule, {"ExponentialDecay", "CosineDecay"}},
      {Kind::loss, {"softmax_cross_entropy", "cross_entropy", "binary_cross_entropy", "mean_squared_error"}},
      {Kind::regularizer, {"L1", "L2", "L1L2"}},
      {Kind::constraint, {"MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"}},
      {Kind::initializer, {"zeros", "glorot_uniform", "he_normal", "orthogonal", "variance_scaling"}}};
  for (const auto& [kind, names] : expected) {
    SCOPED_TRACE(std::string(kind_name(kind)));
    std::vector<std::string> listed = catalog().names(kind);
    for (const char* name : names)
      EXPECT_NE(std::find(listed.begin(), listed.end(), name), listed.end()) << name;
    for (const CatalogEntry* e : catalog().entries(kind)) {
      EXPECT_EQ(e->kind, kind) << e->name;
      EXPECT_FALSE(e->doc.empty()) << e->name;
      EXPECT_TRUE(e->make) << e->name;
    }
  }
  EXPECT_EQ(catalog().names(Kind::optimizer), (std::vector<std::string>{"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"}))
      << "declaration order";
}

TEST(Catalog, AliasesResolveToTheirType) {
  for (Kind kind : kKinds)
    for (const CatalogEntry* e : catalog().entries(kind)) {
      EXPECT_EQ(catalog().find(kind, e->name), e);
      for (const std::string& alias : e->aliases) EXPECT_EQ(catalog().find(kind, alias), e) << alias;
    }
  EXPECT_EQ(catalog().get(Kind::optimizer, "adam").name, "Adam");
  EXPECT_EQ(catalog().get(Kind::regularizer, "l2").name, "L2");
  EXPECT_EQ(catalog().get(Kind::constraint, "max_norm").name, "MaxNorm");
  EXPECT_EQ(catalog().get(Kind::initializer, "GlorotUniform").name, "glorot_uniform");
  EXPECT_EQ(catalog().get(Kind::loss, "mse").name, "mean_squared_error");
  EXPECT_EQ(catalog().find_any("sgd")->kind, Kind::optimizer);
  EXPECT_EQ(catalog().find(Kind::layer, "sgd"), nullptr) << "names belong to one kind";
  // Each kind's reader takes its own spellings: bare names, and initializers in any case with or without '_'.
  EXPECT_EQ(catalog().read(Kind::optimizer, Value("rmsprop"), "x")->config().type, "RMSprop");
  EXPECT_EQ(catalog().read(Kind::regularizer, Value("l1_l2"), "x")->config(),
            parse_value("L1L2(l1=0.01, l2=0.01)").call());
  EXPECT_EQ(catalog().read(Kind::initializer, Value("HeNormal"), "x")->config().type, "he_normal");
  EXPECT_EQ(catalog().read(Kind::loss, Value("binary_crossentropy"), "x")->config().type, "binary_cross_entropy");
  EXPECT_EQ(catalog().read(Kind::regularizer, Value(), "x"), nullptr) << "None is no regularizer";
}

// config() -> spec text -> the kind's reader -> an object with the same config(), for every declared type.
TEST(Catalog, EveryTypeOfEveryKindRoundTripsThroughItsConfig) {
  int checked = 0;
  for (Kind kind : kKinds)
    for (const CatalogEntry* e : catalog().entries(kind)) {
      SCOPED_TRACE(std::string(kind_name(kind)) + " " + e->name);
      std::unique_ptr<CatalogObject> made = e->make(default_call(*e));
      ASSERT_TRUE(made);
      Call c = config_of(*made);
      EXPECT_TRUE(catalog().find(kind, c.type)) << c.repr();
      Value text = parse_value(c.repr());
      std::unique_ptr<CatalogObject> again = catalog().read(kind, text, "round trip");
      ASSERT_TRUE(again);
      EXPECT_EQ(config_of(*again), c);
      ++checked;
    }
  EXPECT_GE(checked, 31 + 5 + 2 + 4 + 3 + 4 + 14);
}

TEST(Catalog, UnknownNamesListTheKnownOnes) {
  for (Kind kind : kKinds) {
    SCOPED_TRACE(std::string(kind_name(kind)));
    try {
      (void)catalog().get(kind, "Nope");
      ADD_FAILURE() << "no error";
    } catch (const ConfigError& err) {
      std::string msg = err.what();
      EXPECT_NE(msg.find(fmt::format("unknown {} 'Nope'; expected one of: ", kind_name(kind))), std::string::npos)
          << msg;
      for (const std::string& name : catalog().names(kind)) EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
    // The kind's reader says the same in its own words, with every known type.
    try {
      (void)catalog().read(kind, Value(Call{"Nope", {}, {}, 3}), "where");
      ADD_FAILURE() << "no error";
    } catch (const ConfigError& err) {
      std::string msg = err.what();
      for (const std::string& name : catalog().names(kind)) EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
  }
  EXPECT_THROW_MSG(catalog().get(Kind::optimizer, "Nope"), ConfigError,
                   "unknown optimizer 'Nope'; expected one of: SGD, Adam, AdamW, RMSprop, Adagrad");
}

namespace {
struct HalfArgs {
  double factor = 0.5;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.factor, Field{"factor", "The factor."});
  }
};
struct Half : CatalogObject {
  double factor;
  explicit Half(double f) : factor(f) {}
  Call config() const override { return Call{"Half", {}, {{"factor", Value(factor)}}, -1}; }
};
}  // namespace

// A type is declared once: its options come from the field list, its factory gets the filled config.
TEST(Catalog, DeclareGivesOptionsAndFactoryFromTheFieldList) {
  Catalog c;
  c.add(declare<HalfArgs>(Kind::regularizer, {"Half", {"half"}, "Halves.", {}},
                          [](HalfArgs a, const Call&) { return std::make_unique<Half>(a.factor); }));
  const CatalogEntry& e = c.get(Kind::regularizer, "half");
  ASSERT_EQ(e.options.size(), 1u);
  EXPECT_EQ(e.options[0].name, "factor");
  EXPECT_EQ(e.options[0].default_repr, "0.5");
  EXPECT_EQ(e.make(parse_value("Half(2)").call())->config(), parse_value("Half(factor=2.0)").call());
  EXPECT_THROW_MSG(e.make(parse_value("Half(scale=2)").call()), ConfigError, "unknown argument 'scale'");
  c.add(declare<HalfArgs>(Kind::regularizer, {"Half", {}, "Replaced.", {}},
                          [](HalfArgs a, const Call&) { return std::make_unique<Half>(a.factor); }));
  EXPECT_EQ(c.entries(Kind::regularizer).size(), 1u) << "a second declaration replaces the first";
  EXPECT_EQ(c.find(Kind::regularizer, "half"), nullptr);
  EXPECT_THROW_MSG(c.read(Kind::regularizer, Value("Half"), "w"), ConfigError, "w: no regularizer is declared");
}

// Layers: LayerOf supplies type(), config() and clone() from the Config, and the catalog's layer entry adds the
// options every layer takes.
TEST(Catalog, LayersDeclaredWithLayerOf) {
  MaxPooling2D pool({.pool_size = {3}});
  EXPECT_EQ(pool.type(), "MaxPooling2D");
  EXPECT_EQ(MaxPooling2D::type_name(), std::string("MaxPooling2D"));
  EXPECT_EQ(pool.clone()->type(), "MaxPooling2D");
  EXPECT_EQ(pool.cfg().pool_size, (std::vector<int64_t>{3, 3})) << "the validated form";
  const CatalogEntry& e = find_layer_type("AveragePooling2D");
  std::vector<std::string> options;
  for (const FieldDoc& f : e.options) options.push_back(f.name);
  EXPECT_EQ(options, (std::vector<std::string>{"pool_size", "strides", "padding", "data_format", "ceil_mode",
                                               "count_include_pad", "name", "optimizer", "trainable"}));
}
