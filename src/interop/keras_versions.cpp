// What a Keras version computed differently (include/locnet/interop/keras_h5.hpp, docs/keras-import.md).
#include <nlohmann/json.hpp>

#include <charconv>

#include "locnet/interop/keras_h5.hpp"

namespace locnet {

bool keras_scales_batch_variance(std::string_view version) {
  // tf.keras writes "2.2.4-tf" and never scaled; multi-backend Keras did from 2.1.3 (keras/layers/normalization.py)
  // until 2.4.0 became a tf.keras wrapper.
  if (version.find('-') != std::string_view::npos) return false;
  int part[3] = {0, 0, 0};
  const char* p = version.data();
  const char* end = p + version.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto [next, ec] = std::from_chars(p, end, part[i]);
    if (ec != std::errc()) return false;
    p = next < end && *next == '.' ? next + 1 : end;
  }
  const int v = part[0] * 10000 + part[1] * 100 + part[2];
  return v >= 20103 && v <= 20301;
}

std::string keras_config_for_version(std::string_view config, std::string_view version) {
  using json = nlohmann::json;
  if (!keras_scales_batch_variance(version)) return std::string(config);
  json j = json::parse(config, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("config")) return std::string(config);  // reported later
  json& c = j["config"];
  json* layers = c.is_array() ? &c : c.is_object() && c.contains("layers") ? &c["layers"] : nullptr;
  if (!layers || !layers->is_array()) return std::string(config);
  for (json& l : *layers)
    if (l.is_object() && l.value("class_name", json()) == "BatchNormalization" && l.contains("config") &&
        l["config"].is_object())
      l["config"]["keras2_variance_scale"] = true;
  return j.dump();
}

}  // namespace locnet
