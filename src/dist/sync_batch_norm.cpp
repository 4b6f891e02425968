#include "locnet/dist/sync_batch_norm.hpp"

#include "locnet/layers/batch_norm.hpp"

namespace locnet::dist {

int convert_sync_batchnorm(Model& model) {
  int converted = 0;
  for (size_t i = 0; i < model.size(); ++i)
    if (auto* bn = dynamic_cast<BatchNormBase*>(&model.layer(i)); bn && !bn->canonical().sync) {
      bn->set_sync(true);  // the weights, statistics and the built kernel stay as they are
      ++converted;
    }
  return converted;
}

}  // namespace locnet::dist
