"""Models in Python: Keras's functional API (locnet.Input, layer(tensor), locnet.Model(inputs, outputs)), Keras's
Sequential and neupy's ``>>`` composition, all over one C++ graph (locnet._core.Model). Training, evaluation and
callbacks live in tools/python/locnet/_fit.py; docs/python-keras.md describes the API and where it differs from Keras.

A layer object taken by a model is rebound to the model's copy (its ``_impl``), so the object the user kept and
``model.layers[i]`` read and write the same weights. When a later model takes the object, it follows that model;
the earlier model's ``layers`` then gives new views of its own copies.
"""
import numpy as np

from . import _catalog, _core, _fit, _layer, distributed as _dist
from ._fit import as_inputs
from ._core import ConfigError, NotSupported, ShapeError


class _Node:
    """One node of a symbolic graph: an input (layer None) or a layer applied to earlier nodes."""

    __slots__ = ("layer", "inputs", "shape", "name")

    def __init__(self, layer, inputs, shape, name=None):
        self.layer, self.inputs, self.shape, self.name = layer, list(inputs), shape, name

    def describe(self):
        if self.layer is None:
            return f"Input '{self.name}'" if self.name else "an Input"
        return f"'{self.layer.name}' ({self.layer.type_name})" if self.layer.name else self.layer.type_name


class SymbolicTensor:
    """A value of a graph that is not computed yet (Keras's KerasTensor): ``locnet.Input(...)`` or a layer's call
    on such tensors. ``shape`` has the batch first (None); None when the input's shape comes with the first batch."""

    def __init__(self, node):
        self._locnet_node = node

    @property
    def shape(self):
        s = self._locnet_node.shape
        return None if s is None else (None,) + s

    @property
    def name(self):
        return self._locnet_node.name

    def __rshift__(self, other):
        return compose(self, other)

    def __repr__(self):
        return f"<locnet.SymbolicTensor shape={self.shape} from {self._locnet_node.describe()}>"


def _as_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def Input(shape=None, name=None, batch_size=None, dtype=None):  # noqa: N802  (Keras's and neupy's spelling)
    """A model input: ``shape`` per sample (no batch); None: a chain's input whose shape comes with the first batch.
    batch_size and dtype are accepted for Keras compatibility and ignored (locnet models take any batch size)."""
    del batch_size, dtype
    return SymbolicTensor(_Node(None, [], _as_shape(shape), name))


def _output_shape(layer, nodes):
    """The per-sample output shape of `layer` on `nodes` (None when an input shape is unknown); ShapeError now."""
    shapes = [n.shape for n in nodes]
    if any(s is None for s in shapes):
        return None
    if len(nodes) == 1:
        try:
            return tuple(layer._impl.output_shape((1,) + shapes[0])[1:])
        except ShapeError as e:
            raise ShapeError(f"cannot connect {nodes[0].describe()} with output shape {(None,) + shapes[0]} to "
                             f"{layer.type_name}: {e}") from None
    probe = _core.Model()  # several inputs: the C++ graph's own check and message
    names = [n.name or f"input_{k + 1}" if n.layer is None else f"{n.layer.name or n.layer.type_name} output"
             for k, n in enumerate(nodes)]
    names = [f"{name}#{k + 1}" if names.count(name) > 1 else name for k, name in enumerate(names)]
    ids = [probe.input(s, name) for name, s in zip(names, shapes)]
    probe.set_outputs([probe.add(layer._impl, ids)])
    return tuple(probe.output_shapes([(1,) + s for s in shapes])[0][1:])


def symbolic_call(layer, x, *args, **kwargs):
    """``layer(tensor)`` / ``merge([a, b])`` on symbolic tensors: a new node of the graph (Keras functional API)."""
    if args or kwargs:
        raise NotSupported(f"{layer.type_name}: calling a layer on a symbolic tensor takes no other arguments, got "
                           f"{len(args)} positional and {sorted(kwargs)}")
    many = isinstance(x, (list, tuple))
    nodes = [t._locnet_node for t in (x if many else [x])]
    return SymbolicTensor(_Node(layer, nodes, _output_shape(layer, nodes)))


def _topological(outputs):
    """The nodes the outputs depend on, each after its inputs (iterative depth-first post-order)."""
    order, seen, stack = [], set(), [(n, False) for n in reversed(outputs)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.inputs))
    return order


def _nodes_of(tensors, what):
    many = isinstance(tensors, (list, tuple))
    out = []
    for t in tensors if many else [tensors]:
        if not hasattr(t, "_locnet_node"):
            raise ConfigError(f"Model: {what} must be symbolic tensors (locnet.Input or a layer called on one), got "
                              f"{type(t).__name__}")
        out.append(t._locnet_node)
    return out, many


def _check_graph(inputs, order):
    listed = {id(n) for n in inputs}
    for n in inputs:
        if n.layer is not None:
            raise ConfigError(f"Model: inputs must be locnet.Input tensors, got the output of {n.describe()}")
    users = {}
    for n in order:
        if n.layer is None and id(n) not in listed:
            raise ConfigError(f"Model: the outputs depend on {n.describe()} with shape {SymbolicTensor(n).shape}, "
                              f"which is not among the inputs")
        if n.layer is not None:
            if id(n.layer) in users:
                raise ConfigError(f"Model: the layer {n.describe()} is used twice; locnet's models do not share "
                                  f"layers (Keras's shared weights): make a second layer for the second use")
            users[id(n.layer)] = n


def _assemble(inputs, outputs, order):
    """The C++ graph of the nodes; each layer object is rebound to the model's copy of its layer."""
    core, ids = _core.Model(), {}
    for n in inputs:
        ids[id(n)] = core.input(n.shape, n.name or "")
    for n in order:
        if n.layer is not None:
            ids[id(n)] = core.add(n.layer._impl, [ids[id(p)] for p in n.inputs])
    core.set_inputs([ids[id(n)] for n in inputs])
    core.set_outputs([ids[id(n)] for n in outputs])
    for n in order:
        if n.layer is not None:
            n.layer._impl, n.layer._owner = core.node_layer(ids[id(n)]), core
    return core, ids


def _wrap_layer(impl, owner):
    """A Python layer object for a layer of a C++ model (a loaded file): the generated class of its type."""
    cls = _catalog.CLASSES.get(("layer", impl.type), _layer.Layer)
    layer = cls.__new__(cls)
    layer._impl, layer._owner, layer.input_spec_shape = impl, owner, None
    return layer


def _shape_of(shape):
    return "(?, " + ", ".join(map(str, shape)) + ")" if shape is not None else "(?)"


class Model(_fit.Training):
    """Keras's functional Model: ``locnet.Model(inputs, outputs)`` on symbolic tensors (one or several of each)."""

    def __init__(self, inputs=None, outputs=None, name=None):
        if inputs is None or outputs is None:
            raise NotSupported("Model: subclassing a Model is not supported; pass inputs and outputs (Keras's "
                               "functional API) or use locnet.Sequential")
        self._init_state(name or "model")
        self._input_nodes, self._many_inputs = _nodes_of(inputs, "inputs")
        self._output_nodes, self._many_outputs = _nodes_of(outputs, "outputs")
        self._order = _topological(self._output_nodes)
        _check_graph(self._input_nodes, self._order)
        self._core, self._node_ids = _assemble(self._input_nodes, self._output_nodes, self._order)
        self._ensure_built()  # as Keras: the weights exist once the Input shapes are known

    def _init_state(self, name):
        self.name = name
        self.stop_training = False
        self.history = None
        self._compiled = None
        self._core = None

    @classmethod
    def _from_core(cls, core):
        """A Python model over a C++ model (a file, a spec): a Sequential for a chain, else a functional Model."""
        inputs = list(core.inputs)
        shapes = dict(zip(inputs, core.input_shapes))
        nodes = []
        for i in range(core.node_count):
            impl = core.node_layer(i)
            if impl is None:
                shape = shapes[i]
                nodes.append(_Node(None, [], None if shape is None else tuple(shape[1:]), core.node_name(i)))
            else:
                parents = [nodes[p] for p in core.node_inputs(i)]
                nodes.append(_Node(_wrap_layer(impl, core), parents, _output_shape_or_none(impl, parents)))
        outputs = [nodes[i] for i in core.outputs]
        model = Sequential() if _is_chain(core, inputs, outputs) else cls.__new__(cls)
        if not isinstance(model, Sequential):
            model._init_state("model")
            model._many_inputs, model._many_outputs = len(inputs) > 1, len(outputs) > 1
        model._input_nodes, model._output_nodes = [nodes[i] for i in inputs], outputs
        model._order = _topological(outputs)
        if isinstance(model, Sequential):
            model._layers = [n.layer for n in model._order if n.layer is not None]
            model._input = model._input_nodes[0]
        model._core, model._node_ids = core, {id(n): i for i, n in enumerate(nodes)}
        model._ensure_built()  # a spec model with Input shapes: its weights now, as a functional Model's
        return model

    # -- the C++ model, built ---------------------------------------------------------------------------------
    def _ensure_built(self, xs=None):
        """Builds the layers not built yet (seeded by locnet.set_seed) for the Input shapes, else the shapes of xs
        (float64 xs: a float64 model); built layers keep their weights (a C++ build replaces them, so they are put
        back). Without xs and with an unknown Input shape, the model stays unbuilt."""
        core = self._core
        if core.built or (xs is None and any(n.shape is None for n in self._input_nodes)):
            return core
        xs = xs or [np.empty((0,) + n.shape, np.float32) for n in self._input_nodes]
        kept = [(layer, layer.get_weights()) for layer in self.layers if layer.built]
        shapes = [(None,) + (n.shape if n.shape is not None else tuple(np.shape(x))[1:])
                  for n, x in zip(self._input_nodes, xs)]
        dtype = "float64" if any(np.asarray(x).dtype == np.float64 for x in xs) else "float32"
        core.build(shapes, _layer.take_seed(), dtype)
        for layer, weights in kept:
            layer.set_weights(weights)
        return core

    def _prepared(self, x):
        """The C++ model, built, and x as a list of arrays in the model's dtype (the C++ forward would rebuild the
        layers, new weights included, for another dtype)."""
        xs = as_inputs(x)
        core = self._ensure_built(xs)
        dtype = self._dtype()
        return core, [v.astype(dtype, copy=False) for v in xs]

    def _dtype(self):
        layers = self.layers
        return np.float64 if layers and layers[0]._impl.dtype in ("f64", "float64") else np.float32

    def build(self, input_shape=None):
        """Builds the weights for the input shape(s) (batch first, as Keras's build); Input shapes need none."""
        shapes = input_shape if self._many_inputs else [input_shape]
        self._ensure_built(None if input_shape is None else [np.empty((0,) + tuple(s[1:]), np.float32)
                                                             for s in shapes])

    # -- structure --------------------------------------------------------------------------------------------
    @property
    def layers(self):
        return [self._view(n) for n in self._order if n.layer is not None]

    def _view(self, node):
        """The node's layer object, or a new view of this model's copy when another model took the object since
        (the object follows the model that took it last)."""
        if node.layer._owner is self._core:
            return node.layer
        return _wrap_layer(self._core.node_layer(self._node_ids[id(node)]), self._core)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in model.layers (Keras's get_layer); ConfigError naming the candidates."""
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"{self.name}: no layer named '{name}'; the layers are {[l.name for l in layers]}")

    @property
    def inputs(self):
        return [SymbolicTensor(n) for n in self._input_nodes]

    @property
    def outputs(self):
        return [SymbolicTensor(n) for n in self._output_nodes]

    @property
    def input(self):
        return self.inputs if self._many_inputs else self.inputs[0]

    @property
    def output(self):
        return self.outputs if self._many_outputs else self.outputs[0]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes if self._many_inputs else shapes[0]

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes if self._many_outputs else shapes[0]

    def count_params(self):
        """Every weight's element count, trainable or not (Keras's count_params)."""
        core = self._core
        return core.param_count + core.buffer_count

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Prints the Keras-like table of the layers (output shapes, parameter counts, totals) with print_fn
        (default print) and returns it as text too."""
        del line_length, positions
        text = self._core.summary()
        (print_fn or print)(text)
        return text

    def to_spec(self):
        """The model in locnet's spec language (docs/spec-language.md); locnet.model_from_spec reads it back."""
        return self._core.spec()

    def __str__(self):  # neupy's form: (?, 10, 10, 12) -> [... 1 layers ...] -> (?, 10, 10, 12)
        ins = ", ".join(_shape_of(n.shape) for n in self._input_nodes)
        outs = ", ".join(_shape_of(n.shape) for n in self._output_nodes)
        return f"{ins} -> [... {len(self._order)} layers ...] -> {outs}"  # neupy counts Input as a layer

    __repr__ = __str__

    # -- weights and files ------------------------------------------------------------------------------------
    def get_weights(self):
        """Every layer's weights, layer by layer in model.layers order, each layer's parameters then buffers."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """The inverse of get_weights; ShapeError naming the layer when the count or a shape differs."""
        weights, pos = list(weights), 0
        layers = self.layers
        expected = sum(len(layer.weights) for layer in layers)
        for layer in layers:
            need = len(layer.weights)
            if pos + need > len(weights):
                raise ShapeError(f"{self.name}: set_weights expects {expected} arrays, got {len(weights)}: layer "
                                 f"'{layer.name}' needs {need} from position {pos}, {len(weights) - pos} left")
            layer.set_weights(weights[pos:pos + need])
            pos += need
        if pos != len(weights):
            raise ShapeError(f"{self.name}: set_weights expects {expected} arrays (the last layer is "
                             f"'{layers[-1].name if layers else None}'), got {len(weights)}")

    def save(self, filepath):
        """Writes a locnet model file atomically (architecture and weights; locnet.load_model reads it). In a
        data-parallel job (locnet.distributed) only rank 0 writes; the replicas are identical."""
        if _dist.writes_files():
            _core.save_model(self._core, str(filepath))

    def save_weights(self, filepath):
        if _dist.writes_files():  # rank 0 only, as save
            _core.save_weights(self._core, str(filepath))

    def load_weights(self, filepath):
        _core.load_weights(self._core, str(filepath))

    # -- neupy ------------------------------------------------------------------------------------------------
    def __rshift__(self, other):
        return compose(self, other)

    def __call__(self, x, training=False):
        if hasattr(x, "_locnet_node") or (isinstance(x, (list, tuple)) and x and hasattr(x[0], "_locnet_node")):
            raise NotSupported(f"{self.name}: a model used as a layer of another model is not supported")
        core, xs = self._prepared(x)
        return core.forward(xs if self._many_inputs else xs[0], training)


def _output_shape_or_none(impl, parents):
    try:
        return _output_shape(_wrap_layer(impl, None), parents)
    except (ShapeError, ConfigError):
        return None


def _is_chain(core, inputs, outputs):
    if len(inputs) != 1 or len(outputs) != 1:
        return False
    return all(list(core.node_inputs(i)) == [i - 1] for i in range(core.node_count) if core.node_layer(i) is not None)


class Sequential(Model):
    """Keras's Sequential: ``Sequential([layers])`` or ``add(layer)``; the first layer's ``input_shape=`` (or an
    added locnet.Input) gives the input shape, else it comes with the first batch."""

    def __init__(self, layers=None, name=None):
        self._init_state(name or "sequential")
        self._many_inputs = self._many_outputs = False
        self._layers, self._input = [], None
        self._chain()
        for layer in layers or ():
            self.add(layer)

    def _chain(self):
        node = self._input if self._input is not None else _Node(None, [], None)
        self._input_nodes, self._order = [node], [node]
        for layer in self._layers:
            node = _Node(layer, [node], _output_shape(layer, [node]))
            self._order.append(node)
        self._output_nodes = [node]
        # names resolved now, as Keras
        self._core, self._node_ids = _assemble(self._input_nodes, self._output_nodes, self._order)
        self._ensure_built()

    def add(self, layer):
        """Appends a layer (ShapeError now when it does not fit the previous output) or sets the Input."""
        if isinstance(layer, SymbolicTensor) and layer._locnet_node.layer is None:
            if self._layers:
                raise ConfigError(f"{self.name}: an Input must be added before the first layer")
            self._input = layer._locnet_node
            return self._chain()
        if isinstance(layer, Model):
            raise NotSupported(f"{self.name}: a model added as a layer is not supported; add its layers")
        if not isinstance(layer, _layer.Layer):
            raise TypeError(f"{self.name}: add takes a locnet layer, got {type(layer).__name__}")
        if any(layer is l for l in self._layers):
            raise ConfigError(f"{self.name}: the layer {layer.type_name} is added twice; locnet's models do not "
                              f"share layers (Keras's shared weights): make a second layer")
        if not self._layers and self._input is None and layer.input_spec_shape is not None:
            self._input = _Node(None, [], layer.input_spec_shape)
        self._layers.append(layer)
        try:
            self._chain()
        except (ShapeError, ConfigError):
            self._layers.pop()
            self._chain()
            raise

    def pop(self):
        """Removes the last layer (Keras's pop)."""
        layer = self._layers.pop()
        self._chain()
        return layer

    def build(self, input_shape=None):
        if input_shape is not None and self._input_nodes[0].shape is None:
            self._input = _Node(None, [], tuple(input_shape[1:]))
            self._chain()
        super().build(input_shape)


def compose(a, b):
    """neupy's ``a >> b``: Input >> layer, model >> layer, layer >> layer (a chain whose input shape comes with the
    first batch). Returns a new Model; the layers are rebound to it."""
    if not isinstance(b, _layer.Layer):
        raise NotSupported(f">>: the right side must be a locnet layer, got {type(b).__name__}")
    if isinstance(a, SymbolicTensor):
        inputs = [SymbolicTensor(n) for n in _topological([a._locnet_node]) if n.layer is None]
        return Model(inputs if len(inputs) > 1 else inputs[0], b(a))
    if isinstance(a, Model):
        if a._many_outputs:
            raise NotSupported(f">>: {a.name} has {len(a._output_nodes)} outputs; >> continues a single output")
        return Model(a.input, b(a.outputs[0]))
    if isinstance(a, _layer.Layer):
        x = Input(None)
        return Model(x, b(a(x)))
    raise NotSupported(f">>: the left side must be a locnet Input, layer or model, got {type(a).__name__}")


def load_model(filepath, custom_objects=None, compile=True):  # noqa: A002  (Keras's argument name)
    """A model from a locnet (safetensors), Keras (.h5, .keras) or ONNX file, as locnet.Model (locnet.Sequential for
    a chain). custom_objects and compile are accepted for Keras compatibility; the model comes uncompiled."""
    del custom_objects, compile
    return Model._from_core(_core.load_model(str(filepath)))


def model_from_spec(text):
    """A model from spec-language text (docs/spec-language.md), as locnet.Model (locnet.Sequential for a chain)."""
    return Model._from_core(_core.model_from_spec(text))


_layer.hooks["symbolic_call"] = symbolic_call
_layer.hooks["compose"] = compose
