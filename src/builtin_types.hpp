// The library's declarations, one function per area (each next to the types it declares); catalog() runs
// register_builtin_types once. Kept as explicit calls: a static link drops object files nothing refers to, and
// with them any self-registering objects.
#pragma once

namespace locnet {

class Catalog;

void declare_initializers(Catalog& c);   // src/params/initializers.cpp
void declare_regularizers(Catalog& c);   // src/params/regularizers.cpp
void declare_constraints(Catalog& c);    // src/params/constraints.cpp
void declare_layers(Catalog& c);         // src/layers/registry.cpp
void declare_optimizers(Catalog& c);     // src/train/optimizers.cpp (optimizers and schedules)
void declare_losses(Catalog& c);         // src/train/losses.cpp
void register_builtin_types(Catalog& c);  // src/builtin_types.cpp: all of the above

}  // namespace locnet
