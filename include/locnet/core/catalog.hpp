// The catalog: every type a user can name in a spec (layer, optimizer, schedule, loss, regularizer, constraint,
// initializer) is declared once, as an entry with its kind, type name, aliases, one-line doc, options (the config
// struct's field list, core/config.hpp) and a factory. Building layers and options from spec calls, config()
// round trips and `locnet info` read it. How to declare a type: docs/adding-a-layer.md.
//
// Each kind also has one reader: how a spec Value (a call, a bare name, None, ...) becomes an object of that kind,
// with the kind's own spellings and error messages (make_layer, make_optimizer, make_regularizer, ... are thin
// wrappers over it). Every object a factory makes is a CatalogObject, whose config() is the call that rebuilds it.
//
// Registration is explicit: the first use of catalog() runs the library's list of declarations once
// (src/builtin_types.cpp), so that no declaration depends on static initialisation of an object file that a
// static link could leave out. Errors: ConfigError "unknown <kind> '<name>'; expected one of: ..." from get().
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "locnet/core/config.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/value.hpp"

namespace locnet {

enum class Kind { layer, optimizer, schedule, loss, regularizer, constraint, initializer };
inline constexpr Kind kKinds[] = {Kind::layer,       Kind::optimizer,  Kind::schedule,   Kind::loss,
                                  Kind::regularizer, Kind::constraint, Kind::initializer};
std::string_view kind_name(Kind kind);    // "layer", "optimizer", ...
std::string_view kind_plural(Kind kind);  // "layers", "optimizers", ..., "losses"

// An object made from the catalog: config() is the spec call that rebuilds an equal object.
class CatalogObject {
 public:
  virtual ~CatalogObject() = default;
  virtual Call config() const = 0;
};

// One declared type; the TypeDoc part (name, aliases, doc, options) is what `locnet info` prints.
struct CatalogEntry : TypeDoc {
  Kind kind = Kind::layer;
  std::function<std::unique_ptr<CatalogObject>(const Call&)> make;  // call.type is the name or an alias
};

// A kind's reader: a spec value -> an object (nullptr for None where the kind allows it), ConfigError naming `where`.
using CatalogReader = std::function<std::unique_ptr<CatalogObject>(const Value&, std::string_view where)>;

class Catalog {
 public:
  void add(CatalogEntry entry);                  // replaces an entry of the same kind and type
  void set_reader(Kind kind, CatalogReader reader);
  const CatalogEntry* find(Kind kind, std::string_view name) const;  // by type or alias; nullptr when unknown
  const CatalogEntry& get(Kind kind, std::string_view name) const;   // ConfigError listing the known types
  const CatalogEntry* find_any(std::string_view name) const;         // the first kind that knows the name
  std::vector<const CatalogEntry*> entries(Kind kind) const;         // in declaration order
  std::vector<std::string> names(Kind kind) const;                   // types, in declaration order
  std::vector<TypeDoc> docs(Kind kind) const;                        // what `locnet info` prints, in that order

  // The kind's reader on v (ConfigError if the kind has none).
  std::unique_ptr<CatalogObject> read(Kind kind, const Value& v, std::string_view where) const;
  template <class T>
  std::unique_ptr<T> read_as(Kind kind, const Value& v, std::string_view where) const {
    return cast<T>(read(kind, v, where));
  }
  // entry.make(call) as the kind's base class T.
  template <class T>
  static std::unique_ptr<T> make_as(const CatalogEntry& entry, const Call& call) {
    return cast<T>(entry.make(call));
  }

 private:
  template <class T>
  static std::unique_ptr<T> cast(std::unique_ptr<CatalogObject> o) {
    if (!o) return nullptr;
    T* t = dynamic_cast<T*>(o.get());
    if (!t) {
      const CatalogObject& made = *o;
      raise<std::logic_error>("catalog: an object of the wrong kind, {}", typeid(made).name());
    }
    o.release();
    return std::unique_ptr<T>(t);
  }
  std::vector<CatalogEntry> entries_;
  std::vector<std::pair<Kind, CatalogReader>> readers_;
};

// The library's catalog, with every built-in type declared.
Catalog& catalog();

// An entry whose factory fills a Config from the call's arguments (assign_config; keywords in `skip` are left to
// `make`) and hands it to make(Config, call) -> std::unique_ptr<derived of CatalogObject>.
template <class Config, class Make>
CatalogEntry declare(Kind kind, TypeDoc doc, Make make, std::vector<std::string> skip = {}) {
  doc.options = describe_config<Config>();
  return CatalogEntry{std::move(doc), kind,
                      [make = std::move(make), skip = std::move(skip)](const Call& call) -> std::unique_ptr<CatalogObject> {
                        Config cfg{};
                        assign_config(cfg, call, skip);
                        return make(std::move(cfg), call);
                      }};
}

}  // namespace locnet
