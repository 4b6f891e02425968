// A model from spec-language text (io/spec.hpp, docs/spec-language.md). Three forms:
//   chain (neupy, Keras Sequential):  Input((28, 28, 1)) >> Dense(10, activation="relu", name="fc") >> Flatten()
//   parallel branches (neupy):        Input((28, 28, 1)) >> [Conv2D(16, 1), Conv2D(16, 3, padding="same") >> ReLU()]
//                                       >> Concatenate()
//   Keras functional, one statement per line:
//                                     x = Input((28, 28, 1))
//                                     a = Conv2D(32, 3, padding="same")(x)
//                                     b = MaxPooling2D(3, strides=1, padding="same")(x)
//                                     y = Concatenate()([a, b])
//                                     Model(inputs=x, outputs=y)
// A leading Input(shape[, name=...]), or Keras's input_shape=shape on the first layer of a chain, sets an input's
// per-sample shape; every other call is a layer type from the catalog (layers/registry.hpp). `[a, b]` after `>>`
// runs each branch from the same node and the next layer takes all their outputs (a merge layer such as
// Concatenate or Add); `Layer(...)(x)` or `Layer(...)([a, b])` calls a layer on named nodes; `y = ...` names a
// node; `x >> Layer() >> ...` continues from a named node. The outputs are Model(...)'s, else the last statement's.
// Errors: ConfigError for the text, an unknown layer, argument or name (with line and column), Input anywhere but
// at the start of a chain, input_shape= on any other layer; ShapeError where nodes do not connect.
#pragma once
#include <string_view>

#include "locnet/model/model.hpp"

namespace locnet {

Model parse_model(std::string_view text);

}  // namespace locnet
