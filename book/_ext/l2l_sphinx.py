"""Two Sphinx hooks for the book, listed in ``_config.yml`` under ``sphinx.local_extensions``.

* ``l2l.name`` links to where ``name`` is documented. The public API is re-exported from
  ``l2l/__init__.py`` (``l2l.meta_train``), while the API page documents each object in its own
  module (``l2l.learned_optimizer.meta_train``); a reference to the short name that Sphinx could
  not find is resolved to the documented one, so docstrings and chapters may write either.
* Each inline script appears once per page. Sphinx 7.4 adds inline scripts registered after the
  builder starts a second time (``prepare_writing`` re-adds them with filename ``''`` instead of
  ``None``, so its duplicate check misses them); sphinx-thebe's ``const THEBE_JS_URL`` then
  throws "Identifier 'THEBE_JS_URL' has already been declared" in every reader's browser.

* The lecture's diagrams are drawn when a build starts: ``book/figures/lecture_figures.py`` writes
  one SVG per figure into ``book/figures/generated/`` (ignored by git), which the chapters include
  with ``{figure}`` directives. Files that did not change are not rewritten.

None of them does anything outside a Sphinx build.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

FIGURE_CODE = Path(__file__).resolve().parents[1] / "figures"


def documented_name(target: str) -> str | None:
    """``"l2l.Sweep"``, ``"Sweep"`` or ``"l2l.maml.train_maml"`` -> the name under which the API page
    documents the object, ``"l2l.no_free_lunch.Sweep"``, ``"l2l.maml.training.train_maml"``;
    ``None`` for anything else, and for a name that is already the documented one.

    A bare name comes from a type hint or a reference written without the package; it is looked
    up among the top-level names of ``l2l``. A dotted name is imported module by module.
    """
    path = target.removeprefix("l2l.").split(".")
    if not all(part.isidentifier() for part in path):
        return None
    obj = importlib.import_module("l2l")
    for part in path:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str) or not module.startswith("l2l."):
        return None
    name = f"{module}.{getattr(obj, '__qualname__', path[-1])}"
    return None if name == target else name


def _resolve_reexport(app, env, node, contnode):
    """``missing-reference`` handler: retry a ``py`` reference under its documented name."""
    if node.get("refdomain") != "py":
        return None
    target = documented_name(node.get("reftarget", ""))
    if target is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, node, contnode)


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats: same file (``None`` and ``''`` alike) and same attributes."""
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", None) or {}
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: render each script of the page once."""
    if isinstance(context.get("script_files"), list):
        context["script_files"] = unique_scripts(context["script_files"])


def draw_lecture_figures(app=None) -> list[Path]:
    """``builder-inited`` handler: write the chapters' diagrams as SVG files; returns their paths."""
    if str(FIGURE_CODE) not in sys.path:
        sys.path.insert(0, str(FIGURE_CODE))
    import lecture_figures

    return lecture_figures.write_svgs(lecture_figures.GENERATED)


def setup(app):
    """Register the handlers (Sphinx extension entry point)."""
    app.connect("builder-inited", draw_lecture_figures)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
