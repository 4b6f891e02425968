"""Tests of the model API (tools/python/locnet/_model.py): Keras's Sequential and functional Model, neupy's >>,
weights, files and errors.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
References: the parameter counts are those Keras's LocallyConnected2D documentation states (its formula); the
LRN and Dense references are SYNTHETIC (NumPy computations of the documented formulas, docs/lrn.md).
"""
import numpy as np
import pytest

import locnet


def keras_example():
    """The example of Keras's LocallyConnected2D page."""
    model = locnet.Sequential()
    model.add(locnet.LocallyConnected2D(64, (3, 3), input_shape=(32, 32, 3)))
    model.add(locnet.LocallyConnected2D(32, (3, 3)))
    return model


# -- Keras Sequential -------------------------------------------------------------------------------------------
def test_keras_seed_example_shapes_and_parameter_counts(capsys):
    model = keras_example()
    assert model.layers[0].compute_output_shape((None, 32, 32, 3)) == (None, 30, 30, 64)
    assert model.output_shape == (None, 28, 28, 32)
    model.summary()
    text = capsys.readouterr().out
    # Keras's page: (30*30)*(3*3*3*64) + (30*30)*64 parameters for the first layer; the same formula for the second.
    first, second = 30 * 30 * (3 * 3 * 3 * 64) + 30 * 30 * 64, 28 * 28 * (3 * 3 * 64 * 32) + 28 * 28 * 32
    assert "(None, 30, 30, 64)" in text and f"{first:,}" in text
    assert "(None, 28, 28, 32)" in text and f"{second:,}" in text
    assert model.count_params() == first + second


def test_sequential_from_a_list_predicts_and_exposes_its_structure():
    dense = locnet.Dense(3, name="fc", input_shape=(4,))
    model = locnet.Sequential([dense, locnet.Activation("relu")])
    assert [l.name for l in model.layers] == ["fc", "activation_1"]
    assert model.get_layer("fc") is dense and model.get_layer(index=1) is model.layers[1]
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    assert len(model.inputs) == 1 and model.inputs[0].shape == (None, 4)
    x = np.random.default_rng(0).normal(size=(70, 4)).astype(np.float32)
    w, b = dense.get_weights()
    np.testing.assert_allclose(model.predict(x, batch_size=16), np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(locnet.ConfigError, match="no layer named 'nope'"):
        model.get_layer("nope")
    with_input = locnet.Sequential([locnet.Input((4,)), locnet.Dense(2)])  # Keras's other way to give the shape
    assert with_input.output_shape == (None, 2) and with_input.count_params() == 10
    with pytest.raises(locnet.ConfigError, match="an Input must be added before the first layer"):
        with_input.add(locnet.Input((2,)))


def test_a_layer_object_views_the_weights_of_the_model_that_took_it():
    dense = locnet.Dense(2, input_shape=(3,))
    model = locnet.Sequential([dense])
    model.build()
    weights = [np.full_like(w, 0.5) for w in model.get_weights()]
    model.set_weights(weights)
    np.testing.assert_array_equal(dense.get_weights()[0], weights[0])
    dense.set_weights([np.ones((3, 2)), np.zeros(2)])
    np.testing.assert_array_equal(model.predict(np.ones((1, 3), np.float32)), [[3, 3]])


def test_a_layer_taken_by_a_second_model_leaves_the_first_model_its_copy():
    dense = locnet.Dense(2)
    x1, x2 = locnet.Input((3,)), locnet.Input((3,))
    first = locnet.Model(x1, dense(x1))
    second = locnet.Model(x2, dense(x2))  # the object now views the second model's copy (initial weights copied)
    assert dense._owner is second._core and first.layers[0] is not dense
    want = first.predict(np.ones((1, 3), np.float32))
    second.set_weights([np.zeros((3, 2)), np.zeros(2)])
    np.testing.assert_array_equal(first.predict(np.ones((1, 3), np.float32)), want)
    assert np.any(first.get_weights()[0] != 0) and not np.any(dense.get_weights()[0])


def test_adding_a_layer_after_build_keeps_the_trained_weights():
    model = locnet.Sequential([locnet.Dense(2, input_shape=(3,))])
    model.build()
    before = model.get_weights()
    model.add(locnet.Dense(1))
    model.predict(np.ones((1, 3), np.float32))
    for a, b in zip(before, model.get_weights()[:2]):
        np.testing.assert_array_equal(a, b)
    assert model.pop().type_name == "Dense" and len(model.layers) == 1


def test_sequential_errors():
    model = locnet.Sequential([locnet.Dense(2, input_shape=(3,))])
    with pytest.raises(locnet.ConfigError, match="added twice; locnet's models do not share layers"):
        model.add(model.layers[0])
    with pytest.raises(locnet.ShapeError, match="cannot connect"):
        model.add(locnet.LocallyConnected2D(4, (3, 3)))
    assert len(model.layers) == 1  # the failed add left the model as it was
    with pytest.raises(TypeError, match="add takes a locnet layer"):
        model.add("Dense(3)")


def test_set_weights_errors_name_the_layer():
    model = locnet.Sequential([locnet.Dense(2, input_shape=(3,), name="a"), locnet.Dense(1, name="b")])
    model.build()
    weights = model.get_weights()
    with pytest.raises(locnet.ShapeError, match="set_weights expects 4 arrays, got 3: layer 'b' needs 2"):
        model.set_weights(weights[:3])
    with pytest.raises(locnet.ShapeError, match=r"set_weights expects 4 arrays \(the last layer is 'b'\), got 5"):
        model.set_weights(weights + [weights[0]])
    with pytest.raises(locnet.ShapeError, match="b"):
        model.set_weights(weights[:2] + [np.zeros((3, 1)), weights[3]])


def test_save_and_load_round_trip_gives_equal_predictions(tmp_path):
    model = locnet.Sequential([locnet.LocallyConnected2D(4, (3, 3), input_shape=(6, 6, 2)), locnet.Flatten(),
                               locnet.Dense(3)])
    x = np.random.default_rng(1).normal(size=(5, 6, 6, 2)).astype(np.float32)
    want = model.predict(x)
    model.save(tmp_path / "m.locnet")
    loaded = locnet.load_model(tmp_path / "m.locnet")
    assert isinstance(loaded, locnet.Sequential)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), want)
    loaded.add(locnet.Activation("softmax"))  # a loaded Sequential keeps its input shape
    assert loaded.output_shape == (None, 3)


def test_model_from_spec_returns_the_python_classes():
    model = locnet.model_from_spec('Input((4,)) >> Dense(3, name="fc")')
    assert isinstance(model, locnet.Sequential) and model.get_layer("fc").type_name == "Dense"
    assert locnet.model_from_spec(model.to_spec()).to_spec() == model.to_spec()
    graph = locnet.model_from_spec('a = Input((4,))\nb = Input((4,))\ny = Add()([a, b])\n'
                                   'Model(inputs=[a, b], outputs=y)')
    assert type(graph) is locnet.Model and graph.input_shape == [(None, 4), (None, 4)]


# -- the functional API -----------------------------------------------------------------------------------------
def test_functional_model_with_a_merge_computes_the_graph():
    a, b = locnet.Input((4,), name="a"), locnet.Input((4,), name="b")
    da, db = locnet.Dense(3), locnet.Dense(3)
    s = locnet.Add()([da(a), db(b)])
    assert s.shape == (None, 3)
    out = locnet.Dense(2)(s)
    model = locnet.Model(inputs=[a, b], outputs=[out, s])
    assert [l.type_name for l in model.layers] == ["Dense", "Dense", "Add", "Dense"]
    xa, xb = np.random.default_rng(2).normal(size=(2, 9, 4)).astype(np.float32)
    y, ys = model.predict([xa, xb], batch_size=4)
    (wa, ba), (wb, bb), (wo, bo) = da.get_weights(), db.get_weights(), model.layers[3].get_weights()
    want_s = xa @ wa + ba + xb @ wb + bb  # synthetic reference: NumPy of Dense and Add
    np.testing.assert_allclose(ys, want_s, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, want_s @ wo + bo, rtol=1e-5, atol=1e-5)
    assert model.output_shape == [(None, 2), (None, 3)]
    assert str(model) == "(?, 4), (?, 4) -> [... 6 layers ...] -> (?, 2), (?, 3)"


def test_functional_model_saves_and_loads_as_a_graph(tmp_path):
    x = locnet.Input((4,))
    y = locnet.Concatenate()([locnet.Dense(2)(x), locnet.Dense(3)(x)])
    model = locnet.Model(x, y)
    data = np.ones((2, 4), np.float32)
    model.save(tmp_path / "g.locnet")
    loaded = locnet.load_model(str(tmp_path / "g.locnet"))
    assert type(loaded) is locnet.Model and loaded.output_shape == (None, 5)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_functional_api_errors():
    x = locnet.Input((4,))
    dense = locnet.Dense(4)
    with pytest.raises(locnet.ConfigError, match="used twice; locnet's models do not share layers"):
        locnet.Model(x, dense(dense(x)))
    other = locnet.Input((4,), name="other")
    with pytest.raises(locnet.ConfigError, match="depend on Input 'other' with shape \\(None, 4\\), which is not"):
        locnet.Model(x, locnet.Add()([x, other]))
    with pytest.raises(locnet.ConfigError, match="inputs must be locnet.Input tensors"):
        locnet.Model(locnet.Dense(2)(x), x)
    with pytest.raises(locnet.ConfigError, match="outputs must be symbolic tensors"):
        locnet.Model(x, np.ones(3))
    with pytest.raises(locnet.ShapeError, match="cannot connect an Input with output shape \\(None, 4\\) to "
                                                "LocallyConnected2D"):
        locnet.LocallyConnected2D(2, (3, 3))(x)
    with pytest.raises(locnet.ShapeError, match="cannot connect input 'Dense output' with shape \\(None, 4\\) and "
                                                "input 'input_2' with shape \\(None, 5\\)"):
        locnet.Add()([locnet.Dense(4)(x), locnet.Input((5,))])
    with pytest.raises(locnet.NotSupported, match="subclassing"):
        locnet.Model()


# -- neupy ------------------------------------------------------------------------------------------------------
def lrn_reference(x, alpha=1e-4, beta=0.75, k=2.0, n=5):
    """SYNTHETIC: neupy's documented LRN (docs/lrn.md): x / (k + alpha * sum over n channels around c of x^2)^beta."""
    sq, half, c = x * x, (n - 1) // 2, x.shape[-1]
    s = np.stack([sq[..., max(0, i - half):i + half + 1].sum(-1) for i in range(c)], axis=-1)
    return x / (k + alpha * s) ** beta


def test_neupy_seed_example():
    network = locnet.Input((10, 10, 12)) >> locnet.LocalResponseNorm()
    assert str(network) == "(?, 10, 10, 12) -> [... 2 layers ...] -> (?, 10, 10, 12)"
    assert network.input_shape == (None, 10, 10, 12) and network.output_shape == (None, 10, 10, 12)
    x = np.random.default_rng(3).normal(size=(2, 10, 10, 12)) * 10
    np.testing.assert_allclose(network.predict(x), lrn_reference(x), rtol=1e-6)


def test_neupy_chains_of_layers_and_models():
    chain = locnet.Dense(3) >> locnet.Activation("relu")  # no Input: the shape comes with the first batch
    assert chain.input_shape is None and str(chain) == "(?) -> [... 3 layers ...] -> (?)"
    assert chain.predict(np.ones((4, 5), np.float32)).shape == (4, 3)
    longer = chain >> locnet.Dense(2)
    assert len(longer.layers) == 3 and longer.predict(np.ones((1, 5), np.float32)).shape == (1, 2)
    net = locnet.Input(6) >> locnet.Dense(4) >> locnet.Dense(2)
    assert net.output_shape == (None, 2) and len(net.layers) == 2
    with pytest.raises(locnet.NotSupported, match="right side must be a locnet layer"):
        net >> net
