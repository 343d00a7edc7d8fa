"""The executed site (``make book``), read as its readers get it.

Checks what the pages *show*: no literal placeholder or unfilled glue in the prose, and no
warning, traceback, build-machine path or progress bar printed line after line in any output.
``make site`` builds the book first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.glob("*/*.html")
               if p.parent.name in ("book", "notebooks"))

#: text a page must never show outside its formulas: unfilled glue or template syntax, TeX that
#: was not rendered (a link whose text is a title with math shows its source; a $ left over from
#: display math that the parser read as inline), stand-in words
PLACEHOLDERS = re.compile(r"\{glue|\{\{|\}\}|\\[A-Za-z]+\{|\$|\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b"
                          r"|\?\?\?|<placeholder>")
#: what a cell's output must not carry
WARNING = re.compile(r"\b\w*Warning\b|\bwarnings\.warn\b|Traceback \(most recent call last\)")
BUILD_PATH = re.compile(r"(/work/|/tmp/|/home/|/root/|site-packages|\.venv/|/usr/lib/python)")
PROGRESS_LINE = re.compile(r"\d+%\|")


def _soup(page: str) -> BeautifulSoup:
    return BeautifulSoup((SITE / page).read_text(encoding="utf8"), "html.parser")


def _prose(soup: BeautifulSoup) -> str:
    """The page's text without code: cell sources, outputs, literal blocks, formulas and API
    signatures removed."""
    article = soup.select_one("article") or soup
    for node in article.select("div.cell_input, div.cell_output, pre, code, script, style, .math, dt.sig"):
        node.decompose()
    return article.get_text(" ")


def _outputs(soup: BeautifulSoup) -> list[str]:
    return [node.get_text() for node in soup.select("div.cell_output div.output")]


def _glue_names(notebook: str) -> set[str]:
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return set(re.findall(r"""\bl2l\.glue\(\s*["']([A-Za-z0-9_\-]+)["']""", code))


def test_the_checks_catch_what_they_look_for():
    """The patterns on what the last build showed before they were fixed."""
    tqdm_warning = ("/work/main/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
                    "IProgress not found. Please update jupyter and ipywidgets.")
    assert WARNING.search(tqdm_warning) and BUILD_PATH.search(tqdm_warning)
    flood = "meta-training:  10%|█         | 1/10 [00:01<00:09]\nmeta-training:  20%|██        | 2/10\n"
    assert len(PROGRESS_LINE.findall(flood)) == 2
    html = ("<article><p>ratio ratio_64 of {glue:text}`x` TODO, see The slide’s D_{\\text{train}}</p>"
            "<pre>ratio_64</pre><span class='math'>\\frac{a}{b}}</span></article>")
    prose = _prose(BeautifulSoup(html, "html.parser"))
    assert PLACEHOLDERS.findall(prose) == ["{glue", "TODO", "\\text{", "}}"] and prose.count("ratio_64") == 1
    leftover = BeautifulSoup("<p>Hence $<span class='math'>x</span></p>", "html.parser")
    assert PLACEHOLDERS.findall(_prose(leftover)) == ["$"]


def test_the_executed_site_was_built():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make book` (`make site` does)")
    built = {p.removeprefix("notebooks/").removesuffix(".html") for p in PAGES if p.startswith("notebooks/")}
    assert built == set(NOTEBOOKS)
    # executed: every notebook page shows outputs, and at least one figure
    for notebook in NOTEBOOKS:
        soup = _soup(f"notebooks/{notebook}.html")
        assert soup.select("div.cell_output"), f"{notebook}: no outputs; was the book executed?"


@pytest.mark.parametrize("page", PAGES)
def test_no_placeholder_or_unfilled_glue_in_the_prose(page):
    found = PLACEHOLDERS.findall(_prose(_soup(page)))
    assert not found, f"{page} shows {found}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_glue_name_is_shown_in_place_of_its_number(notebook):
    text = _prose(_soup(f"notebooks/{notebook}.html"))
    shown = sorted(name for name in _glue_names(notebook) if re.search(rf"\b{re.escape(name)}\b", text))
    assert not shown, f"{notebook}: the page shows the names {shown}, not their values"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_outputs_carry_no_warning_traceback_or_build_path(notebook):
    soup = _soup(f"notebooks/{notebook}.html")
    assert not soup.select("div.cell_output div.output.stderr"), f"{notebook} shows stderr output"
    for text in _outputs(soup):
        assert not WARNING.search(text), f"{notebook} shows a warning: {text[:300]!r}"
        assert not BUILD_PATH.search(text), f"{notebook} shows a path of the build machine: {text[:300]!r}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_progress_bar_is_printed_line_after_line(notebook):
    for text in _outputs(_soup(f"notebooks/{notebook}.html")):
        assert len(PROGRESS_LINE.findall(text)) <= 1, f"{notebook}: a progress bar as lines: {text[:300]!r}"
