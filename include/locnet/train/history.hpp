// Reports of a training run's per-epoch metrics (trainer.hpp's EpochMetrics):
//   history_csv: a header "epoch,loss,accuracy,val_loss,val_accuracy,seconds" and one row per epoch (val_* empty
//                without validation data); csv_row is one row, for logs appended epoch by epoch.
//   learning_curves_svg: a self-contained SVG with two panels, loss and accuracy against the epoch, training
//                (solid) and test (dashed) curves, axes with ticks and a legend; opens in any browser.
#pragma once
#include <string>
#include <vector>

#include "locnet/train/trainer.hpp"

namespace locnet {

std::string csv_header();
std::string csv_row(const EpochMetrics& m);
std::string history_csv(const std::vector<EpochMetrics>& history);
std::string learning_curves_svg(const std::vector<EpochMetrics>& history, const std::string& title = "");

}  // namespace locnet
