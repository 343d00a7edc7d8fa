"""Every notebook is committed clean and opens on Colab with the book's package.

The repository URL lives in one place, ``repository.url`` in ``_config.yml`` (it also drives the
launch buttons); each notebook's first cell must install the package from exactly that URL.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SETUP_CELL = """\
# On Google Colab, install the book's package; elsewhere this cell does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "l2l @ git+{url}"
"""
INSTALLED_URL = re.compile(r'%pip install --quiet "l2l @ git\+([^"]+)"')


def repository_url() -> str:
    """The one place that holds the repository URL: ``repository.url`` in ``_config.yml``."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def _name(path: Path) -> str:
    return path.stem


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "no_free_lunch.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} hold outputs or execution counts; strip them "
        "(nbformat: outputs=[] and execution_count=None) before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_first_cell_installs_the_package_on_colab(path):
    url = repository_url()
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "code", f"{path.name}: the first cell must be the Colab setup cell"
    found = INSTALLED_URL.search(first.source)
    assert found, f"{path.name}: the first cell does not install l2l with %pip"
    assert found.group(1) == url, (
        f"{path.name}: installs from {found.group(1)}, but _config.yml's repository.url is {url}"
    )
    assert first.source.strip() == SETUP_CELL.format(url=url).strip(), (
        f"{path.name}: the first cell must be exactly the setup cell of CONTRIBUTING.md"
    )
