"""Fixtures of the browser check: the built site, served on 127.0.0.1, opened in headless Chromium.

The site is the executed one that ``make book`` builds (``_build/html``); ``make browser``
builds it first. Chromium is Debian's package
(``apt-get install chromium``), driven through the ``playwright`` Python package; without it every
test here is skipped with a message saying so.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
CHROMIUM = Path(os.environ.get("L2L_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files from the site folder without logging every request to stderr."""

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site() -> Path:
    """The built HTML folder; fails with the command to run when it is missing."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make book` first (`make browser` does)")
    return SITE


@pytest.fixture(scope="session")
def base_url(site):
    """``http://127.0.0.1:<free port>/`` serving ``site`` from a standard-library server thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through playwright; skips the browser check when it is absent."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"browser check skipped: no Chromium at {CHROMIUM} "
            "(install Debian's package: apt-get install chromium; .ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
