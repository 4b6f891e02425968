#include "locnet/core/catalog.hpp"

#include <algorithm>
#include <mutex>


namespace locnet {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::layer: return "layer";
    case Kind::optimizer: return "optimizer";
    case Kind::schedule: return "schedule";
    case Kind::loss: return "loss";
    case Kind::regularizer: return "regularizer";
    case Kind::constraint: return "constraint";
    case Kind::initializer: return "initializer";
  }
  return "?";
}

std::string_view kind_plural(Kind kind) {
  switch (kind) {
    case Kind::layer: return "layers";
    case Kind::optimizer: return "optimizers";
    case Kind::schedule: return "schedules";
    case Kind::loss: return "losses";
    case Kind::regularizer: return "regularizers";
    case Kind::constraint: return "constraints";
    case Kind::initializer: return "initializers";
  }
  return "?";
}

void Catalog::add(CatalogEntry entry) {
  auto same = [&](const CatalogEntry& e) { return e.kind == entry.kind && e.name == entry.name; };
  if (auto it = std::find_if(entries_.begin(), entries_.end(), same); it != entries_.end())
    *it = std::move(entry);
  else
    entries_.push_back(std::move(entry));
}

void Catalog::set_reader(Kind kind, CatalogReader reader) {
  for (auto& [k, r] : readers_)
    if (k == kind) {
      r = std::move(reader);
      return;
    }
  readers_.emplace_back(kind, std::move(reader));
}

const CatalogEntry* Catalog::find(Kind kind, std::string_view name) const {
  for (const CatalogEntry& e : entries_)
    if (e.kind == kind && (e.name == name || std::find(e.aliases.begin(), e.aliases.end(), name) != e.aliases.end()))
      return &e;
  return nullptr;
}

const CatalogEntry& Catalog::get(Kind kind, std::string_view name) const {
  if (const CatalogEntry* e = find(kind, name)) return *e;
  raise<ConfigError>("unknown {} '{}'; expected one of: {}", kind_name(kind), name, fmt::join(names(kind), ", "));
}

const CatalogEntry* Catalog::find_any(std::string_view name) const {
  for (Kind kind : kKinds)
    if (const CatalogEntry* e = find(kind, name)) return e;
  return nullptr;
}

std::vector<const CatalogEntry*> Catalog::entries(Kind kind) const {
  std::vector<const CatalogEntry*> out;
  for (const CatalogEntry& e : entries_)
    if (e.kind == kind) out.push_back(&e);
  return out;
}

std::vector<std::string> Catalog::names(Kind kind) const {
  std::vector<std::string> out;
  for (const CatalogEntry* e : entries(kind)) out.push_back(e->name);
  return out;
}

std::vector<TypeDoc> Catalog::docs(Kind kind) const {
  std::vector<TypeDoc> out;
  for (const CatalogEntry* e : entries(kind)) out.push_back(*e);
  return out;
}

std::unique_ptr<CatalogObject> Catalog::read(Kind kind, const Value& v, std::string_view where) const {
  for (const auto& [k, reader] : readers_)
    if (k == kind) return reader(v, where);
  raise<ConfigError>("{}: no {} is declared in this build, got {}", where, kind_name(kind), v.repr());
}

// The library's list of declarations, at the top of src/ (src/builtin_types.cpp), where every area is visible; core
// knows it only by this name, so no include points up.
void register_builtin_types(Catalog& c);

Catalog& catalog() {
  static Catalog c;
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_types(c); });
  return c;
}

}  // namespace locnet
