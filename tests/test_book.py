"""The book's structure: toc, API page, review questions, and the citation metadata agree."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

import l2l

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))  # the book's Sphinx extension, as _config.yml loads it
from l2l_sphinx import documented_name, unique_scripts  # noqa: E402


def _read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf8")


def _bibtex_block(text: str) -> str:
    found = re.search(r"```bibtex\n(.*?)```", text, re.DOTALL)
    assert found, "no ```bibtex block"
    return found.group(1).strip()


def test_every_toc_entry_exists():
    toc = yaml.safe_load(_read("_toc.yml"))
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    captions = [part["caption"] for part in toc["parts"]]
    assert captions[0] == "What meta-learning is" and captions[-1] == "Wrap-up"
    assert captions.index("What meta-learning is") < captions.index("Learned optimizers")
    missing = [f for f in files if not any(ROOT.glob(f + ".*"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_api_page_documents_every_public_module():
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "l2l").rglob("*.py")
        if not p.stem.startswith("_") or p.stem == "__init__"
    } - {"l2l"}
    documented = set(re.findall(r"\.\. automodule:: (l2l[\w.]*)", _read("book/api.md")))
    assert documented == modules, (
        f"book/api.md is missing {sorted(modules - documented)}, lists absent {sorted(documented - modules)}"
    )


def test_reexported_names_point_to_their_module():
    assert documented_name("l2l.Sweep") == "l2l.no_free_lunch.Sweep"
    assert documented_name("Sweep") == "l2l.no_free_lunch.Sweep"
    assert documented_name("l2l.record") == "l2l.report.results.record"
    assert documented_name("l2l.maml.train_maml") == "l2l.maml.training.train_maml"  # a package's re-export
    assert documented_name("l2l.no_such_thing") is None
    assert documented_name("l2l.maml.no_such_thing") is None
    assert documented_name("l2l.report.results.record") is None  # already the documented name
    assert documented_name("torch.Tensor") is None
    assert documented_name("Module") is None


def test_review_questions_are_answered_with_links():
    text = _read("book/review_questions.md")
    exercises = re.findall(r"```\{exercise\}.*?:label: (\S+)", text, re.DOTALL)
    assert len(exercises) == 4
    solutions = re.split(r":::\{solution\} ", text)[1:]
    assert [s.split("\n", 1)[0] for s in solutions] == exercises
    for solution in solutions:
        body = solution.split("\n:::", 1)[0]
        assert ":class: dropdown" in body, "solutions start collapsed"
        assert re.search(r"\{(doc|ref|prf:ref)\}`", body), "each answer links into the book"
        assert re.search(r"\{eq\}`eq-", body), "each answer cites the numbered equation that answers it"
        assert re.search(r"\{numref\}`fig-", body), "each answer points at the figure that answers it"


PROSE_CHAPTERS = ["meta_learning", "learned_optimizer", "maml", "reptile"]


def _labels() -> dict[str, set[str]]:
    """Targets defined in the book's pages and notebooks, by kind."""
    texts = [_read(p.relative_to(ROOT).as_posix()) for p in sorted(BOOK.glob("*.md"))]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf8"))["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    text = "\n".join(texts)
    return {
        "eq": set(re.findall(r"^\s*\$\$ \(([\w-]+)\)\s*$", text, re.MULTILINE)),
        "figure": set(re.findall(r"^:name: ([\w-]+)\s*$", text, re.MULTILINE)),
        "exercise": set(re.findall(r"^:label: ([\w-]+)\s*$", text, re.MULTILINE)),
        "target": set(re.findall(r"^\(([\w-]+)\)=\s*$", text, re.MULTILINE)),
    }


def test_every_eq_numref_and_ref_target_in_the_book_exists():
    labels = _labels()
    anything = set().union(*labels.values())
    for path in sorted(BOOK.glob("*.md")):
        text = path.read_text(encoding="utf8")
        for target in re.findall(r"\{eq\}`([^`]+)`", text):
            assert target in labels["eq"], f"{path.name}: {{eq}}`{target}` names no numbered equation"
        for target in re.findall(r"\{numref\}`([^`]+)`", text):
            assert target in labels["figure"], f"{path.name}: {{numref}}`{target}` names no figure"
        for target in re.findall(r"\{ref\}`(?:[^`<]*<)?([^`>]+)>?`", text):
            assert target in anything, f"{path.name}: {{ref}}`{target}` names no target"


def test_prose_chapters_teach_with_objectives_exercises_and_summary():
    numbered = 0
    for name in PROSE_CHAPTERS:
        text = _read(f"book/{name}.md")
        first_section = text.index("\n## ")
        assert "```{admonition} Learning objectives" in text[:first_section], f"{name}: objectives on top"
        headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
        assert headings[-1] == "Summary", f"{name}: ends with a Summary section, not {headings[-1]!r}"
        exercises = re.findall(r"^```\{exercise\}.*\n:label: ([\w-]+)", text, re.MULTILINE)
        solutions = re.findall(r"^```\{solution\} ([\w-]+)\n:class: dropdown", text, re.MULTILINE)
        assert len(exercises) >= 3, f"{name}: {len(exercises)} exercises, want at least 3"
        assert solutions == exercises, f"{name}: each exercise has a collapsed solution, in order"
        equations = re.findall(r"^\s*\$\$ \(eq-[\w-]+\)\s*$", text, re.MULTILINE)
        assert equations, f"{name}: no numbered equation"
        assert re.search(r"^:name: fig-", text, re.MULTILINE), f"{name}: no numbered figure"
        numbered += len(equations)
    assert numbered >= 30, f"only {numbered} numbered equations in the prose chapters"


def test_figures_have_captions_and_alt_text():
    for path in sorted(BOOK.glob("*.md")):
        for block in re.findall(
            r"^```\{figure\}.*?^```", path.read_text(encoding="utf8"), re.DOTALL | re.MULTILINE
        ):
            options, _, caption = block.partition("\n\n")
            assert ":name: fig-" in options and ":alt:" in options, f"{path.name}: figure without name or alt"
            assert len(caption.strip("`\n ")) > 40, f"{path.name}: figure without a caption"


def _visible_width(row: str) -> int:
    """Rough count of the symbols one row of LaTeX displays (commands count as one symbol)."""
    row = re.sub(r"\\(text|mathrm|operatorname|mathbb|mathcal)\{([^{}]*)\}", r"\2", row)
    row = re.sub(r"\\(begin|end)\{[^}]*\}(\{[^}]*\})?", "", row)
    row = re.sub(r"\\(qquad)(?![a-zA-Z])", "xxxxxx", row)
    row = re.sub(r"\\(quad)(?![a-zA-Z])", "xxx", row)
    row = re.sub(r"\\(left|right|[bB]igl?|[bB]igr|[,;!])(?![a-zA-Z])", "", row)
    row = re.sub(r"\\[a-zA-Z]+", "x", row)
    return len(re.sub(r"[{}^_&\s]", "", row))


def test_display_equations_are_split_to_fit_the_page():
    """Each displayed row (a whole equation, or one line of an aligned one) fits a page's width."""
    assert _visible_width(r"\mathbb{E}[g] = c_0\, \text{AvgGrad}") == 14
    for path in sorted(BOOK.glob("*.md")):
        text = path.read_text(encoding="utf8")
        for block in re.findall(r"^\$\$\n(.*?)^\$\$", text, re.DOTALL | re.MULTILINE):
            for row in re.split(r"\\\\", block.replace("\n", " ")):
                assert _visible_width(row) <= 50, f"{path.name}: split this display row: {row.strip()!r}"


def test_citation_metadata_agrees():
    url = yaml.safe_load(_read("_config.yml"))["repository"]["url"]
    cff = yaml.safe_load(_read("CITATION.cff"))
    version = re.search(r'^version = "([^"]+)"', _read("pyproject.toml"), re.MULTILINE).group(1)
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == version == l2l.__version__
    assert cff["repository-code"] == url
    assert cff["title"] == yaml.safe_load(_read("_config.yml"))["title"]
    readme, cite_page = _read("README.md"), _read("book/how_to_cite.md")
    assert _bibtex_block(readme) == _bibtex_block(cite_page)
    assert url in readme and cff["url"] in readme and cff["url"] in _bibtex_block(readme)


def test_inline_scripts_are_rendered_once():
    from sphinx.builders.html._assets import _JavaScript

    thebe = "const THEBE_JS_URL = 'x'"
    scripts = [
        _JavaScript("_static/a.js"),
        _JavaScript(None, body=thebe),
        _JavaScript("_static/b.js", defer="defer"),
        _JavaScript("", body=thebe),
        _JavaScript("_static/a.js"),
    ]
    unique = unique_scripts(scripts)
    assert [str(s.filename) for s in unique] == ["_static/a.js", "None", "_static/b.js"]


def test_every_mention_of_the_repository_agrees_with_config():
    """``repository.url`` in ``_config.yml`` is the source; other files must not drift from it."""
    url = yaml.safe_load(_read("_config.yml"))["repository"]["url"]
    owner, name = url.rstrip("/").split("/")[-2:]
    files = ["README.md", "CITATION.cff", "pyproject.toml", "CONTRIBUTING.md"]
    files += [p.relative_to(ROOT).as_posix() for p in sorted(BOOK.glob("*.md"))]
    files += [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    pattern = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)|([\w-]+)\.github\.io/([\w.-]+)")
    wrong = {
        (path, found.group(0))
        for path in files
        if (ROOT / path).is_file()
        for found in pattern.finditer(_read(path))
        if [g for g in found.groups() if g] != [owner, name]
    }
    assert not wrong, f"repository named differently from {url}: {sorted(wrong)}"


NOTEBOOK_PAGES = sorted((ROOT / "notebooks").glob("*.ipynb"))
GLUE_REFERENCE = re.compile(r"\{glue(?::\w+)?\}`([A-Za-z0-9_\-]+)(?::[^`]*)?`")
GLUE_CALL = re.compile(r"""\bl2l\.glue\(\s*["']([A-Za-z0-9_\-]+)["']""")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOK_PAGES, ids=lambda p: p.stem)
def test_notebook_pages_teach_with_objectives_exercises_and_summary(path):
    cells = _cells(path)
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    assert markdown[0].startswith("# ") and "```{admonition} Learning objectives" in markdown[1], (
        f"{path.name}: the cell after the title holds the learning objectives"
    )
    text = "\n".join(markdown)
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[-2:] == ["Exercises", "Summary"], f"{path.name}: ends with Exercises, then Summary"
    exercises = re.findall(r"^`{3,}\{exercise\}.*\n:label: ([\w-]+)", text, re.MULTILINE)
    solutions = re.findall(r"^`{3,}\{solution\} ([\w-]+)\n:class: dropdown", text, re.MULTILINE)
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises, want at least 3"
    assert solutions == exercises, f"{path.name}: each exercise has a collapsed solution, in order"


@pytest.mark.parametrize("path", NOTEBOOK_PAGES, ids=lambda p: p.stem)
def test_every_glue_reference_is_glued_once_by_its_notebook(path):
    """The prose's measured numbers come from the run: each {glue:text}`name` has one l2l.glue call."""
    cells = _cells(path)
    text = {kind: "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
            for kind in ("markdown", "code")}
    referenced = set(GLUE_REFERENCE.findall(text["markdown"]))
    calls = GLUE_CALL.findall(text["code"])
    duplicates = sorted({n for n in calls if calls.count(n) > 1})
    assert not duplicates, f"{path.name}: glued more than once (myst-nb warns): {duplicates}"
    missing = sorted(referenced - set(calls))
    assert not missing, f"{path.name}: glue references without an l2l.glue call: {missing}"


def test_exercise_labels_are_unique_across_the_book():
    texts = [_read(p.relative_to(ROOT).as_posix()) for p in sorted(BOOK.glob("*.md"))]
    texts += ["".join(c["source"]) for p in NOTEBOOK_PAGES for c in _cells(p) if c["cell_type"] == "markdown"]
    labels = re.findall(r"^`{3,}\{exercise\}.*\n:label: ([\w-]+)", "\n".join(texts), re.MULTILINE)
    assert len(labels) == len(set(labels)), sorted({x for x in labels if labels.count(x) > 1})
