// Sequential: a chain of layers, Keras's and neupy's everyday model. It is a Model (model/model.hpp) built with
// add(layer) or `>>`, so every function that takes a Model takes it:
//   Input({10, 10, 12}) >> LocalResponseNorm() >> Dense(10)
//   Sequential model(Input({784})); model.add(Dense(10));
#pragma once
#include "locnet/model/model.hpp"
