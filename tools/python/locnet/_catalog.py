"""Python classes generated from locnet's catalog (include/locnet/core/catalog.hpp).

Every declared type becomes a class whose keyword arguments, defaults and docstring come from the catalog's field
list, so a type added in C++ reaches Python with no code here. A type with a convention suffix
(``LocalResponseNorm.pytorch``) becomes a class attribute of its base class (``LocalResponseNorm.pytorch``), as the
spec language spells it.
"""
import ast
import inspect

from . import _core

KINDS = ("layer", "optimizer", "schedule", "loss", "regularizer", "constraint", "initializer")


def default_value(text):
    """A default written as spec text ('1e-05', '(1, 1)', 'None', '"valid"') as the Python value it denotes."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a call such as GlorotUniform(): left as spec text, which locnet reads as the same value


def docstring(entry):
    lines = [entry["doc"], ""]
    if entry["aliases"]:
        lines += ["Also named: " + ", ".join(entry["aliases"]), ""]
    if entry["options"]:
        lines.append("Options (keyword, default: meaning):")
        for o in entry["options"]:
            default = "required" if o["required"] else o["default"]
            lines.append(f"  {o['name']} ({o['type']}, {default}): {o['doc']}")
    return "\n".join(lines)


class CatalogObject:
    """An optimizer, schedule, loss, regularizer, constraint or initializer: its call, as the spec language writes
    it, passed to locnet wherever such an object is an option (``kernel_regularizer=locnet.L2(1e-4)``)."""

    kind = None
    type_name = None
    options = ()

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        _core.spec_repr(self)  # converts every argument now: a TypeError names what Python cannot pass

    def _locnet_call(self):
        return (self.type_name, self.args, self.kwargs)

    def get_config(self):
        return dict(self.kwargs)

    def spec(self):
        return _core.spec_repr(self)

    def __repr__(self):
        return self.spec()

    def __eq__(self, other):
        return isinstance(other, CatalogObject) and self._locnet_call() == other._locnet_call()


def kind_base(name, kind):
    """The base class of one non-layer kind's generated classes."""
    return type(name, (CatalogObject,), {"kind": kind, "__module__": "locnet",
                                         "__doc__": f"Base of the {kind} classes generated from the catalog."})


def entries(kind):
    return _core.catalog(kind)


def signature(entry):
    params = []
    for o in entry["options"]:
        default = inspect.Parameter.empty if o["required"] else default_value(o["default"])
        if default is inspect.Parameter.empty and params and params[-1].default is not inspect.Parameter.empty:
            default = None  # a required option after optional ones (possible in a field list): keyword-only use
        params.append(inspect.Parameter(o["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
    params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


def make_class(entry, base, kind):
    name = entry["name"]
    attrs = {
        "__doc__": docstring(entry),
        "type_name": name,
        "kind": kind,
        "options": tuple(o["name"] for o in entry["options"]),
        "defaults": {o["name"]: default_value(o["default"]) for o in entry["options"] if not o["required"]},
        "__module__": "locnet",
        "__signature__": signature(entry),
    }
    return type(name.replace(".", "_"), (base,), attrs)


def generate(namespace, kind, base):
    """Adds one class per catalog entry of `kind` to `namespace` (dotted names as attributes of their base)."""
    made = {}
    for entry in entries(kind):
        cls = make_class(entry, base, kind)
        made[entry["name"]] = cls
        head, dot, convention = entry["name"].partition(".")
        if dot and head in made:
            cls.__qualname__ = entry["name"]
            setattr(made[head], convention, cls)
        else:
            cls.__name__ = cls.__qualname__ = entry["name"]
            namespace[entry["name"]] = cls
        for alias in entry["aliases"]:
            if alias.isidentifier() and alias not in namespace:
                namespace[alias] = cls
    return made


def from_call(type_name, args, kwargs):
    """A nested call of a config (kernel_regularizer=L2(0.01)) as the class of its catalog entry."""
    for kind in KINDS[1:]:
        cls = CLASSES.get((kind, type_name))
        if cls is not None:
            return cls(*args, **kwargs)
    obj = CatalogObject(*args, **kwargs)
    obj.type_name = type_name
    return obj


CLASSES = {}  # (kind, type name) -> class, filled by the package's __init__
