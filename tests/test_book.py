"""The book's structure: toc, API page, review questions, and the citation metadata agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

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
    modules = {p.stem for p in (ROOT / "l2l").glob("*.py") if not p.stem.startswith("_")}
    documented = set(re.findall(r"\.\. automodule:: l2l\.(\w+)", _read("book/api.md")))
    assert documented == modules, (
        f"book/api.md is missing {sorted(modules - documented)}, lists absent {sorted(documented - modules)}"
    )


def test_reexported_names_point_to_their_module():
    assert documented_name("l2l.Sweep") == "l2l.no_free_lunch.Sweep"
    assert documented_name("Sweep") == "l2l.no_free_lunch.Sweep"
    assert documented_name("l2l.record") == "l2l.results.record"
    assert documented_name("l2l.no_such_thing") is None
    assert documented_name("l2l.results.record") is None  # already a full name
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
