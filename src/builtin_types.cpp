#include "builtin_types.hpp"

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
