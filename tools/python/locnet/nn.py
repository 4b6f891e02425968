"""TensorFlow's functional form of LRN: ``locnet.nn.local_response_normalization(x, depth_radius=5, bias=1,
alpha=1, beta=0.5)`` (alias ``lrn``), computed by the ``LocalResponseNorm.tensorflow`` layer on a channels-last
batch, as ``tf.nn.local_response_normalization`` documents it (docs/lrn.md).
"""
from . import _catalog


def local_response_normalization(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None):
    layer = _catalog.CLASSES[("layer", "LocalResponseNorm.tensorflow")](
        depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta, name=name)
    return layer.forward(input, training=False)


lrn = local_response_normalization
