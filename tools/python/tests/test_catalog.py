"""Every catalog type of every kind from Python (tools/python/locnet/_catalog.py): it constructs with its defaults
(required options filled as tests/core/test_catalog.cpp does: ints 3, floats 0.5, strings "relu"), round-trips its
config through C++ (cls(**config) gives the same spec), and every layer computes what the same layer made from
spec text computes (_core.model_from_spec, weights copied, same input).

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
References: the C++ layers themselves (no external data).
"""
import unittest

import numpy as np

import locnet
from locnet import _core

# Sample shapes tried in turn until the layer accepts one: 2D, 1D, flat, 3D; channels-first with 3 channels (the
# required num_features of the PyTorch conventions).
SAMPLE_SHAPES = [(6, 6, 4), (6, 4), (4,), (4, 6, 6, 4), (3, 6, 6), (3, 6), (3, 4, 6, 6), (3,)]
KINDS = ("layer", "optimizer", "schedule", "loss", "regularizer", "constraint", "initializer")


def required_value(option):
    return 3 if option["type"].startswith("int") else 0.5 if option["type"] == "float" else "relu"


def with_defaults(kind, name):
    """The class of a catalog entry made with its defaults, required options filled."""
    entry = next(e for e in _core.catalog(kind) if e["name"] == name)
    return locnet.classes(kind)[name](**{o["name"]: required_value(o) for o in entry["options"] if o["required"]})


def spec_of(kind, obj):
    """The object as C++ made it, as spec text (each kind through the C++ reader that takes it)."""
    if kind == "optimizer":
        return _core.make_optimizer(obj).spec()
    if kind == "schedule":
        return _core.make_optimizer(locnet.SGD(learning_rate=obj)).spec()
    if kind == "loss":
        return _core.make_loss(obj).config()
    option = {"regularizer": "kernel_regularizer", "constraint": "kernel_constraint",
              "initializer": "kernel_initializer"}[kind]
    return locnet.Dense(2, **{option: obj}).spec()


def accepted_shape(layer, inputs):
    for sample in SAMPLE_SHAPES:
        shape = (None,) + sample
        try:
            if inputs > 1:
                layer._impl.clone().build([shape] * inputs)  # no output_shape for several inputs
            else:
                layer._impl.output_shape(shape)
            return sample
        except (locnet.ShapeError, locnet.ConfigError):
            pass
    return None


def spec_model(layer, sample, inputs):
    """The layer's spec text in a model of `inputs` inputs of shape `sample` (the C++ side of the comparison)."""
    if inputs == 1:
        return _core.model_from_spec(f"Input({sample}) >> {layer.spec()}")
    names = [f"x{i}" for i in range(inputs)]
    lines = [f"{n} = Input({sample})" for n in names]
    lines.append(f"y = {layer.spec()}([{', '.join(names)}])")
    lines.append(f"Model(inputs=[{', '.join(names)}], outputs=y)")
    return _core.model_from_spec("\n".join(lines))


class EveryType(unittest.TestCase):
    def test_every_type_of_every_kind_constructs_and_round_trips(self):
        checked = 0
        for kind in KINDS:
            for name in locnet.classes(kind):
                with self.subTest(kind=kind, type=name):
                    obj = with_defaults(kind, name)
                    again = type(obj)(**obj.get_config())
                    if kind == "layer":
                        self.assertEqual(again.spec().replace(again.name, obj.name), obj.spec())
                    else:
                        self.assertEqual(spec_of(kind, again), spec_of(kind, obj))
                    checked += 1
        self.assertGreaterEqual(checked, 31 + 5 + 2 + 4 + 3 + 4 + 14)  # as tests/core/test_catalog.cpp

    def test_every_layer_computes_what_the_cpp_layer_computes(self):
        rng = np.random.default_rng(0)
        computed = 0
        for name in locnet.classes("layer"):
            with self.subTest(type=name):
                layer = with_defaults("layer", name)
                lo, hi = layer._impl.arity
                inputs = max(lo, 2) if hi is None or hi > 1 else 1
                sample = accepted_shape(layer, inputs)
                self.assertIsNotNone(sample, f"{name}: no sample shape of {SAMPLE_SHAPES} fits")
                model = spec_model(layer, sample, inputs)
                model.build([(None,) + sample] * inputs, seed=3, dtype="float64")
                reference = model.layers()[0]
                layer.build([(None,) + sample] * inputs if inputs > 1 else (None,) + sample, seed=9,
                            dtype="float64")
                for n, value, _, _ in reference.params() + reference.buffers():
                    layer._impl.assign(n, value)
                xs = [rng.standard_normal((2,) + sample) for _ in range(inputs)]
                x = xs if inputs > 1 else xs[0]
                want = model.predict(x)
                np.testing.assert_array_equal(layer.forward(x, training=False), want[0] if inputs > 1 else want)
                computed += 1
        self.assertGreaterEqual(computed, 31)


class Signatures(unittest.TestCase):
    def test_keywords_and_defaults_are_the_spec_languages(self):
        lc = locnet.LocallyConnected2D(4, (3, 3))
        config = lc.get_config()
        self.assertEqual((config["filters"], tuple(config["kernel_size"])), (4, (3, 3)))
        self.assertEqual(config["padding"], "valid")
        self.assertIn("filters", locnet.LocallyConnected2D.__doc__)

    def test_a_bad_option_is_the_cpp_config_error(self):
        with self.assertRaisesRegex(locnet.ConfigError, "LocalResponseNorm"):
            locnet.LocalResponseNorm(alpha=-1.0)


if __name__ == "__main__":
    unittest.main()
