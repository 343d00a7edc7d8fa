"""Real data, verified before use: MNIST (:mod:`~l2l.data.mnist`, checked here against pinned
SHA-256 digests) and the Neural Art photographs (:mod:`~l2l.data.photos`, scikit-image's samples,
which scikit-image checks against the SHA-256 digests of its own registry before it loads one)."""

from l2l._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
