"""What the algorithms train on: optimizees (:mod:`~l2l.tasks.problems`: quadratics, MNIST
MLPs; :mod:`~l2l.tasks.style_transfer`: the Neural Art objective) and task distributions
(:mod:`~l2l.tasks.regression`: linear and sine regression; :mod:`~l2l.tasks.navigation`: the 2-D
point robot)."""

from l2l._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
