"""The built site, checked as a reader's browser sees it.

Every page is opened once in headless Chromium (the ``visits`` fixture records what happened);
the tests then check that each page loaded without console errors or failed requests and without
reaching any host but 127.0.0.1, that MathJax (served from the site itself) rendered every
formula, that every internal link and anchor resolves, that notebook pages carry Colab and Binder
launch buttons pointing at the repository in ``_config.yml``, that every image loads, and that
two page screenshots and two figures (a prose chapter's, a notebook's) were saved.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"

# sha256 of es5/tex-chtml.js in npm's mathjax@3.2.2 tarball (integrity sha512-Bt+SSVU8eBG27z...),
# the file sphinx-mathjax-offline==0.0.2 ships unchanged and the site serves.
MATHJAX_VERSION = "3.2.2"
MATHJAX_SHA256 = "0a6ded5abbce13331658dd239f34382abd06492c74b71b61e8caa8112ec55fa5"
SCREENSHOT_PAGES = ("book/meta_learning.html", "notebooks/no_free_lunch.html")
#: pages whose first figure is also saved on its own: a lecture figure of a prose chapter and a
#: figure a notebook computed during the build
FIGURE_PAGES = {"book/maml.html": "figure img", "notebooks/maml_rl.html": "div.cell_output img"}
REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.IGNORECASE)
SKIPPED_FOLDERS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}

# Waits for MathJax to finish, then reads the rendered output (not the TeX source).
READ_MATH = """async () => {
  const math = [...document.querySelectorAll('.math')];
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const containers = [...document.querySelectorAll('mjx-container')];
  const visible = containers.filter(c => c.offsetParent !== null);
  return {
    version: window.MathJax ? MathJax.version : null,
    sources: math.length,
    rendered: math.filter(e => e.querySelector('mjx-container mjx-math')).length,
    containers: containers.length,
    glyphs: document.querySelectorAll('mjx-container mjx-c').length,
    empty: containers.filter(c => !c.querySelector('mjx-c')).length,
    visible: visible.length,
    visible_sized: visible.filter(c => c.getBoundingClientRect().width > 0).length,
    errors: document.querySelectorAll('mjx-merror').length,
    tex_left: math.filter(e => /\\\\\\(|\\\\\\[|\\$\\$/.test(e.innerText)).length,
    labels: containers.map(c => c.textContent).slice(0, 400),
  };
}"""
READ_PAGE = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
        .concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
  scripts: [...document.querySelectorAll('script[src]')].map(s => s.src),
  images: [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth]),
})"""


@dataclass
class Visit:
    """What one page did in the browser."""

    path: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    math: dict | None = None  # None only for a redirect page
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    scripts: list[str] = field(default_factory=list)
    images: list[tuple[str, int]] = field(default_factory=list)


def _pages(site: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to its root."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        relative = html.relative_to(site)
        if not SKIPPED_FOLDERS.intersection(relative.parts):
            pages.append(relative.as_posix())
    return pages


def _redirect(site: Path, base_url: str, path: str) -> str | None:
    """The absolute target of a ``<meta http-equiv="refresh">`` page, else ``None``."""
    found = REFRESH.search((site / path).read_text(encoding="utf8"))
    return urljoin(base_url + path, found.group(1)) if found else None


def _visit(context, base_url: str, path: str, redirect: str | None) -> Visit:
    """Open ``path``, wait for MathJax, take a screenshot if asked, and record what happened."""
    visit = Visit(path)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and visit.console_errors.append(m.text))
    page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: visit.failed_requests.append(f"{r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: r.status >= 400 and visit.failed_requests.append(f"{r.url} -> {r.status}"),
    )

    def local_only(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            visit.external_requests.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    response = page.goto(base_url + path, wait_until="load")
    visit.status = response.status if response else None
    if redirect:  # index.html sends the reader on to the first chapter
        page.wait_for_url(redirect)
        visit.links = [redirect]
        page.close()
        return visit
    visit.math = page.evaluate(READ_MATH)
    seen = page.evaluate(READ_PAGE)
    visit.links, visit.ids, visit.scripts = seen["links"], set(seen["ids"]), seen["scripts"]
    visit.images = [tuple(image) for image in seen["images"]]
    if path in SCREENSHOT_PAGES:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / path.replace("/", "__").replace(".html", ".png"))
    if path in FIGURE_PAGES:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        figure = page.locator(FIGURE_PAGES[path]).first
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=SCREENSHOTS / path.replace("/", "__").replace(".html", "__figure.png"))
    page.close()
    return visit


@pytest.fixture(scope="module")
def visits(browser, base_url, site) -> dict[str, Visit]:
    """Every page of the site, opened once in one browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        return {
            path: _visit(context, base_url, path, _redirect(site, base_url, path)) for path in _pages(site)
        }
    finally:
        context.close()


def _repository() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


def test_every_toc_page_was_built_and_opened(visits):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    missing = [f for f in files if f + ".html" not in visits]
    assert not missing, f"toc entries without a built page: {missing}"


def test_pages_load_without_console_errors(visits):
    bad = {
        path: v.console_errors + v.failed_requests
        for path, v in visits.items()
        if v.status != 200 or v.console_errors or v.failed_requests
    }
    assert not bad, f"pages with errors: {bad}"


def test_pages_reach_no_host_but_the_site(visits):
    external = {path: v.external_requests for path, v in visits.items() if v.external_requests}
    assert not external, f"requests to other hosts (the site must work offline): {external}"


def test_mathjax_is_served_from_the_site(visits, site, base_url):
    served = site / "_static" / "mathjax" / "tex-chtml.js"
    assert hashlib.sha256(served.read_bytes()).hexdigest() == MATHJAX_SHA256
    with_math = [v for v in visits.values() if v.math and v.math["sources"]]
    assert with_math, "no page has math"
    for v in with_math:
        mathjax = [s for s in v.scripts if "mathjax" in s.lower()]
        assert mathjax and all(s.startswith(base_url) for s in mathjax), (v.path, mathjax)
        assert v.math["version"] == MATHJAX_VERSION, v.path


def test_mathjax_renders_every_formula(visits):
    with_math = {path: v.math for path, v in visits.items() if v.math and v.math["sources"]}
    assert {"book/meta_learning.html", "book/review_questions.html"} <= set(with_math)
    for path, math in with_math.items():
        assert math["rendered"] == math["sources"], (path, math)
        assert math["containers"] > 0 and math["empty"] == 0, (path, "containers without glyphs")
        assert math["visible_sized"] == math["visible"] > 0, (path, "visible math of zero width")
        assert math["errors"] == 0 and math["tex_left"] == 0, (path, math)


def test_rendered_math_reads_as_the_formula(visits):
    """The chapter's central formula, read back from MathJax's output: f* = F(D_train)."""
    labels = visits["book/meta_learning.html"].math["labels"]
    assert any(text.replace(" ", "").startswith("f∗=F(D") for text in labels), labels[:10]


def test_internal_links_resolve(visits, base_url):
    targets: dict[str, set[str]] = {}
    for v in visits.values():
        for link in v.links:
            if link.startswith(base_url):
                url, fragment = urldefrag(link)
                targets.setdefault(url, set()).add(fragment)
    assert targets, "no internal links found"
    broken = []
    for url, fragments in sorted(targets.items()):
        path = url[len(base_url) :] or "index.html"
        if path.endswith("/"):
            path += "index.html"
        if path in visits:
            broken += [f"{url}#{f}" for f in fragments if f and f not in visits[path].ids]
            continue
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != 200:
            broken.append(f"{url} -> {status}")
    assert not broken, f"broken internal links: {broken}"


def test_notebook_pages_have_launch_buttons(visits):
    repo = _repository()
    owner_name = urlparse(repo["url"]).path.strip("/")
    notebooks = [p for p in visits if p.startswith("notebooks/")]
    assert "notebooks/no_free_lunch.html" in notebooks
    for path in notebooks:
        source = path.replace(".html", ".ipynb")
        colab = f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/{source}"
        links = visits[path].links
        assert colab in links, (path, [x for x in links if "colab" in x])
        binder = f"https://mybinder.org/v2/gh/{owner_name}/{repo['branch']}"
        assert any(x.startswith(binder) and source in x for x in links), path


def test_every_image_loads(visits):
    broken = [(path, src) for path, visit in visits.items() for src, width in visit.images if not width]
    assert not broken, broken
    shown = [src for path in visits if path.startswith("notebooks/") for src, _ in visits[path].images]
    assert len(shown) > 20, "the notebook pages show few figures: was the book executed?"


def test_figures_are_saved_on_their_own(visits):
    from PIL import Image

    for path in FIGURE_PAGES:
        png = SCREENSHOTS / path.replace("/", "__").replace(".html", "__figure.png")
        with Image.open(png) as image:
            assert min(image.size) > 150, png
            low, high = image.convert("L").getextrema()
            assert high - low > 100, f"{png} looks blank"


def test_screenshots_are_saved(visits):
    from PIL import Image

    for path in SCREENSHOT_PAGES:
        assert path in visits
        png = SCREENSHOTS / path.replace("/", "__").replace(".html", ".png")
        with Image.open(png) as image:
            assert image.size == (1280, 900), png
            low, high = image.convert("L").getextrema()
            assert high - low > 100, f"{png} looks blank"
