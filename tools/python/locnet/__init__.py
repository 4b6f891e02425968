"""locnet: Local Response Normalization, LocallyConnected1D/2D and Batch Normalization in every framework's
convention, with the framework around them, on NumPy arrays (docs/python.md).

Every layer, optimizer, schedule, loss, regularizer, constraint and initializer of locnet's catalog is a class
here, with the spec language's keyword names and defaults: ``help(locnet.LocallyConnected2D)`` lists them.
"""
from . import _catalog, _core
from ._catalog import CatalogObject
from ._arrays import bf16
from ._core import ConfigError, DistError, FormatError, NotSupported, ShapeError
from ._layer import Layer, set_seed

__version__ = _core.__version__


# The bases of the non-layer kinds (isinstance(locnet.Adam(), locnet.Optimizer) holds).
Optimizer = _catalog.kind_base("Optimizer", "optimizer")
Schedule = _catalog.kind_base("Schedule", "schedule")
Loss = _catalog.kind_base("Loss", "loss")
Regularizer = _catalog.kind_base("Regularizer", "regularizer")
Constraint = _catalog.kind_base("Constraint", "constraint")
Initializer = _catalog.kind_base("Initializer", "initializer")

_BASES = {"layer": Layer, "optimizer": Optimizer, "schedule": Schedule, "loss": Loss, "regularizer": Regularizer,
          "constraint": Constraint, "initializer": Initializer}
for _kind, _base in _BASES.items():
    for _name, _cls in _catalog.generate(globals(), _kind, _base).items():
        _catalog.CLASSES[(_kind, _name)] = _cls
_core._set_call_factory(_catalog.from_call)
del _kind, _base, _name, _cls


def classes(kind="layer"):
    """The generated classes of one catalog kind, by type name (dotted conventions included)."""
    return {name: cls for (k, name), cls in _catalog.CLASSES.items() if k == kind}


from . import callbacks, data, distributed  # noqa: E402
from ._model import Input, Model, Sequential, SymbolicTensor, load_model, model_from_spec  # noqa: E402
from .callbacks import History  # noqa: E402
