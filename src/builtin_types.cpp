// The library's declarations, one call per area (each declares its types next to them). catalog() runs this once.
// Explicit calls, not self-registering objects: a static link drops object files that nothing refers to.
#include "locnet/core/catalog.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"
#include "locnet/params/regularizers.hpp"
#include "locnet/train/losses.hpp"
#include "locnet/train/optimizers.hpp"

namespace locnet {

void register_builtin_types(Catalog& c) {
  declare_initializers(c);
  declare_regularizers(c);
  declare_constraints(c);
  declare_layers(c);
  declare_optimizers(c);
  declare_losses(c);
}

}  // namespace locnet
