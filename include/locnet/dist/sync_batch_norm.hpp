// SyncBatchNorm (docs/distributed.md, docs/batch_norm.md): BatchNorm with sync=True (every convention) normalizes a
// training batch with the statistics of the global batch, the union of every rank's local batch, when its model
// belongs to a data-parallel job (Model::set_collective / FitOptions::collective); alone it is plain BatchNorm.
// convert_sync_batchnorm (PyTorch's torch.nn.SyncBatchNorm.convert_sync_batchnorm): sets sync=True on every
// BatchNorm layer of the model, keeping weights and statistics; returns how many it converted.
#pragma once
#include "locnet/model/model.hpp"

namespace locnet::dist {

int convert_sync_batchnorm(Model& model);

}  // namespace locnet::dist
