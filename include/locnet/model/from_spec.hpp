// A Sequential model from spec-language text (io/spec.hpp, docs/spec-language.md):
//   Input((28, 28, 1)) >> Dense(10, activation="relu", name="fc") >> Flatten()
// A leading Input(shape), or Keras's input_shape=shape on the first layer, sets the input shape (per sample);
// every other call is a layer type from the catalog (layers/registry.hpp). Errors: ConfigError for the text, an
// unknown layer or argument (with its column), Input anywhere but first, or input_shape= on any other layer;
// ShapeError where two layers do not connect.
#pragma once
#include <string_view>

#include "locnet/model/sequential.hpp"

namespace locnet {

Sequential parse_model(std::string_view text);

}  // namespace locnet
