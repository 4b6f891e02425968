// Layer types in the catalog (core/catalog.hpp): a spec call -> a layer, and the declaration of a layer type.
// The library's layer types are declared in src/layers/registry.cpp, one line each: `c.add(layer_entry<Dense>())`.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/catalog.hpp"
#include "locnet/layers/layer.hpp"

namespace locnet {

const CatalogEntry& find_layer_type(std::string_view type);  // ConfigError listing the known types
std::vector<std::string> layer_type_names();                 // sorted
std::unique_ptr<Layer> make_layer(const Call& call);         // ConfigError for unknown types or arguments
void declare_layers(Catalog& c);                             // the library's layer types, into the catalog

namespace detail {
std::unique_ptr<Layer> with_layer_options(std::unique_ptr<Layer> layer, const Call& call);  // optimizer, trainable
std::string layer_name(const Call& call);  // name="..." or "" (ConfigError unless a string or None)
void add_layer_options(std::vector<FieldDoc>& options);
}  // namespace detail

// The catalog entry of a layer type L declared with LayerOf (layers/layer.hpp): L's Config fields, then the
// options every layer takes (name, optimizer, trainable).
template <class L>
CatalogEntry layer_entry() {
  CatalogEntry e = declare<typename L::Config>(
      Kind::layer, {L::type_name(), {}, L::doc(), {}},
      [](typename L::Config cfg, const Call& call) -> std::unique_ptr<CatalogObject> {
        return detail::with_layer_options(std::make_unique<L>(std::move(cfg), detail::layer_name(call)), call);
      },
      {"name", "optimizer", "trainable"});
  detail::add_layer_options(e.options);
  return e;
}

}  // namespace locnet
