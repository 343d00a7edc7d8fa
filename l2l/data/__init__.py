"""Real data, verified before use: MNIST (:mod:`~l2l.data.mnist`) and the Neural Art
photographs (:mod:`~l2l.data.photos`)."""

from l2l._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
