"""Data sets for training (docs/data.md): the sources `locnet train --data` opens, as locnet.data.Dataset
(the C++ Dataset, include/locnet/train/dataset.hpp) for Model.fit and Model.evaluate.

A Dataset has len(), sample_shape, target_kind ("labels" or "values"), target_shape, classes, class_names, name
and gather(indices) -> (x, labels or targets). Errors are locnet's: FormatError naming the file for a bad file,
ShapeError for counts that differ, ConfigError for options that do not go together.
"""
from . import _core

Dataset = _core.Dataset


def _path(p):
    return "" if p is None else str(p)


def open(data=None, x=None, y=None, val_x=None, val_y=None, x_key=None, y_key=None, target=None,
         color_mode="rgb", image_size=None, interpolation="bilinear"):  # noqa: A001 (locnet.data.open)
    """(train, validation or None) from files, as `locnet train`: data is a directory of IDX files, an .npz, a
    .csv or an image folder; x/y (and val_x/val_y) are .npy or IDX pairs; x_key/y_key pick .npz arrays; target
    names the CSV target column(s) (a name or a list); color_mode, image_size (height, width) and interpolation
    apply to image folders."""
    targets = [] if target is None else [target] if isinstance(target, str) else list(target)
    return _core.open_dataset(_path(data), _path(x), _path(y), _path(val_x), _path(val_y), x_key or "",
                              y_key or "", targets, color_mode, image_size, interpolation)


def arrays(x, y):
    """Samples x (N, ...) with integer y (N,) -> class labels, or float y (N, ...) -> float targets."""
    return _core.dataset_arrays(x, y)


def image_folder(root, color_mode="rgb", image_size=None, interpolation="bilinear", cache=True):
    """root/<class>/<image> (Keras's image_dataset_from_directory layout; docs/image-folders.md); pixels / 255."""
    return _core.image_folder_dataset(str(root), color_mode, image_size, interpolation, cache)


def validation_split(dataset, fraction):
    """(train, validation): the last `fraction` of the samples is validation (Keras's validation_split)."""
    return _core.validation_split(dataset, fraction)
