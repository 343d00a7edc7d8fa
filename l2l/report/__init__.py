"""The book's helpers: one plot style and the plots several chapters share
(:mod:`~l2l.report.plotting`), and the numbers each notebook records and asserts
(:mod:`~l2l.report.results`)."""

from l2l._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)
