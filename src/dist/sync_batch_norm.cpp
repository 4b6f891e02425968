// PLACEHOLDER (branch h4 only): h2 owns this file and its real implementation replaces it at merge. It exists so
// that the Python binding locnet._core.convert_sync_batchnorm links before h2's SyncBatchNorm is merged.
#include "locnet/dist/sync_batch_norm.hpp"

#include "locnet/core/error.hpp"

namespace locnet::dist {

int convert_sync_batchnorm(Model&) {
  raise<NotSupported>("convert_sync_batchnorm: SyncBatchNorm must be merged (h2), got this placeholder");
}

}  // namespace locnet::dist
