"""The book's experiments, apart from the library: the MNIST generalisation conditions and the
meta-training of the shipped optimizers (:mod:`~l2l.experiments.mnist`,
:mod:`~l2l.experiments.neural_art`, the command line :mod:`~l2l.experiments.train`), and the
weights they wrote (``pretrained/``)."""

from l2l._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
