"""The site is a test.

1. The real site builds with ``mkdocs build --strict`` (once per run; the other checks use that build).
2. Each kind of bad input (missing snippet file, missing section, broken link, broken anchor) is made to
   happen in a copy of the project, and the strict build must fail with a message naming the page and the problem.
3. No built page loads anything from another host: a static check of the HTML and CSS, and a real Chromium
   that records every request while it searches, follows a result and switches to dark mode.

Run only the fast part with ``pytest tests/test_site.py -m "not browser"``.
"""

from __future__ import annotations

import functools
import json
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]

# What a build needs; the fault tests copy these into a temporary directory.
PROJECT_PATHS = ["mkdocs.yml", "docs", "snippets", "overrides", "tools", "dlnlp"]  # what mkdocs.yml reads

BUILD_TIMEOUT_S = 600
# One build and one browser for the whole file: with pytest-xdist, all of it runs in the same process.
pytestmark = pytest.mark.xdist_group("site")

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # or another Chromium-based browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Build:
    project: Path
    site_dir: Path
    returncode: int
    log: str

    def __repr__(self) -> str:  # keeps pytest's assertion output to the point
        return f"Build({str(self.project)!r}, exit {self.returncode})"

    def problems(self) -> str:
        """The WARNING/ERROR lines of the log (the whole tail if there are none), for failure messages."""
        lines = self.log.splitlines()
        picked = [line for line in lines if re.search(r"WARNING|ERROR|Error|Aborted", line)]
        return "\n".join(picked or lines[-40:])


def mkdocs_build(project: Path, site_dir: Path) -> Build:
    """Run the strict build of ``project`` the way CI does, from the project root."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    return Build(project, site_dir, proc.returncode, ANSI.sub("", proc.stdout))


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    """The real site, built once from the repository root into a temporary directory."""
    return mkdocs_build(REPO, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def site(build) -> Path:
    """The built site's directory; tests that need it fail at once when the build did not pass."""
    if build.returncode != 0:
        pytest.fail(
            f"the site did not build (mkdocs exited {build.returncode}), see test_strict_build_passes:\n"
            + build.problems(),
            pytrace=False,
        )
    return build.site_dir


def test_strict_build_passes(build):
    exit_code = build.returncode
    assert exit_code == 0, f"mkdocs build --strict exited {exit_code}:\n{build.problems()}"
    assert (build.site_dir / "index.html").is_file(), "the build passed but wrote no index.html"


def test_tutorial_pages_say_what_produced_their_outputs(site):
    """The tutorial card shows 'Tested with' (Python, PyTorch, ... and the date of the recorded run)."""
    html = (site / "beginner" / "hello-world" / "index.html").read_text("utf-8")
    assert re.search(r"Tested with</dt><dd>Python 3\.\d+\.\d+ · PyTorch [\w.+]+ · run on \d{4}-\d\d-\d\d<", html)
    assert "{{" not in html, "a measured-value marker was left unfilled on the hello-world page"


# ---------------------------------------------------------------------------------------------------------------
# Bad input gives a clear message naming its place
# ---------------------------------------------------------------------------------------------------------------
PAGE = "index.md"  # the faults are appended to docs/index.md of a copy of the project


def _existing_snippet(project: Path) -> str:
    """The name (relative to snippets/) of a real snippet file; a probe file is made if none exists yet."""
    found = sorted(p for p in (project / "snippets").rglob("*.py") if "--8<-- [start:" in p.read_text("utf-8"))
    if found:
        return found[0].relative_to(project / "snippets").as_posix()
    probe = project / "snippets" / "fault_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text("# --8<-- [start:present]\nx = 1\n# --8<-- [end:present]\n", encoding="utf-8")
    return probe.name


# fault name -> (Markdown appended to docs/index.md, words that one line of the message must contain)
FAULTS = {
    "missing_snippet_file": (
        lambda project: '```python\n--8<-- "no_such_file.py:x"\n```',
        [PAGE, "no_such_file.py"],
    ),
    "missing_snippet_section": (
        lambda project: f'```python\n--8<-- "{_existing_snippet(project)}:no_such_section"\n```',
        [PAGE, "no_such_section"],
    ),
    "broken_link": (
        lambda project: "See [the missing page](missing.md).",
        [PAGE, "missing.md"],
    ),
    "broken_anchor": (
        lambda project: "See [a heading that is not there](index.md#no-such-heading).",
        [PAGE, "no-such-heading"],
    ),
    "unrecorded_measured_value": (
        lambda project: "The model scored {{ hello_world.no_such_value:.3f }} on test.",
        [PAGE, "no_such_value", "no recorded value"],
    ),
}


# The copies leave out the generated notebooks: rendering them is two thirds of a build's time (10 s -> 3 s here),
# nothing links to them from Markdown, and the control build below proves the copy builds cleanly without them.
CONTROL = "no_fault"


def _build_with_fault(name: str, root: Path) -> tuple[Build, str]:
    project = root / name / "project"
    project.mkdir(parents=True)
    for rel in PROJECT_PATHS:
        src = REPO / rel
        if src.is_dir():
            shutil.copytree(src, project / rel, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        elif src.is_file():
            shutil.copy2(src, project / rel)
    if name == CONTROL:
        return mkdocs_build(project, root / name / "site"), ""
    inject, _ = FAULTS[name]
    markdown = inject(project)
    page = project / "docs" / PAGE
    page.parent.mkdir(parents=True, exist_ok=True)
    original = page.read_text("utf-8") if page.exists() else "# Home\n"
    page.write_text(original.rstrip("\n") + "\n\n" + markdown + "\n", encoding="utf-8")
    return mkdocs_build(project, root / name / "site"), markdown


@pytest.fixture(scope="module")
def fault_builds(site, tmp_path_factory) -> dict[str, tuple[Build, str]]:
    """One strict build per fault, each in its own copy of the project; run side by side to save time.

    Needs the project itself to build (``site``): a fault is only meaningful as the one thing wrong, and mkdocs
    stops at the first page that raises, which could hide the injected fault behind an unrelated one.
    """
    root = tmp_path_factory.mktemp("faults")
    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine has 2 cores: more threads only contend
        futures = {name: pool.submit(_build_with_fault, name, root) for name in [CONTROL, *FAULTS]}
        return {name: future.result() for name, future in futures.items()}


def test_the_copy_without_notebooks_builds_cleanly(fault_builds):
    """Without this, a fault test could pass on an error the copying itself caused."""
    result, _ = fault_builds[CONTROL]
    assert result.returncode == 0, f"the fault-free copy did not build:\n{result.problems()}"
    assert (result.site_dir / "index.html").is_file()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_bad_input_fails_the_build_naming_page_and_problem(fault, fault_builds):
    result, markdown = fault_builds[fault]
    _, words = FAULTS[fault]
    exit_code = result.returncode
    assert exit_code != 0, (
        f"the strict build passed although docs/{PAGE} contains:\n{markdown}\nlog:\n{result.problems()}"
    )
    naming = [line for line in result.log.splitlines() if all(w in line for w in words)]
    assert naming, (
        f"the build failed, but no line of its output names all of {words} "
        f"(fault in docs/{PAGE}: {markdown!r}); it said:\n{result.problems()}"
    )


# ---------------------------------------------------------------------------------------------------------------
# Nothing is loaded from another host: static check of the built HTML and CSS
# ---------------------------------------------------------------------------------------------------------------
# <link rel=...> values that make the browser fetch or contact the href (canonical, alternate, next... do not).
LOADING_RELS = {
    "stylesheet", "preload", "modulepreload", "prefetch", "prerender", "preconnect", "dns-prefetch",
    "icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon", "manifest",
}
RESOURCE_ATTRS = {
    "script": ["src"],
    "img": ["src", "srcset"],
    "iframe": ["src"],
    "source": ["src", "srcset"],
    "video": ["src", "poster"],
    "audio": ["src"],
    "embed": ["src"],
    "object": ["data"],
    "track": ["src"],
}
CSS_URL = re.compile(r"""url\(\s*['"]?\s*([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)


def is_external(url: str) -> bool:
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme.lower() in {"http", "https", "ws", "wss", "ftp"}


class _ResourceFinder(html.parser.HTMLParser):
    """Collects (what, url) for every URL a page makes the browser load, including CSS in <style> and style=""."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "link":
            rels = set(attrs.get("rel", "").lower().split())
            if rels & LOADING_RELS:
                self.found.append((f'<link rel="{attrs.get("rel")}" href>', attrs.get("href", "")))
        for attr in RESOURCE_ATTRS.get(tag, []):
            value = attrs.get(attr, "")
            urls = [part.split()[0] for part in value.split(",") if part.strip()] if attr == "srcset" else [value]
            self.found += [(f"<{tag} {attr}>", url) for url in urls]
        if "style" in attrs:
            self.found += [(f"<{tag} style>", url) for url in css_urls(attrs["style"])]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += [("<style>", url) for url in css_urls(data)]


def css_urls(css: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(css)]


def test_built_pages_load_nothing_from_other_hosts(site):
    offenders: dict[str, list[str]] = {}  # "<tag attr> url" -> files that reference it
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            finder = _ResourceFinder()
            finder.feed(path.read_text("utf-8", errors="replace"))
            found = finder.found
        elif path.suffix == ".css":
            found = [("url()/@import", url) for url in css_urls(path.read_text("utf-8", errors="replace"))]
        else:
            continue
        for what, url in found:
            if is_external(url):
                offenders.setdefault(f"{what} {url}", []).append(path.relative_to(site).as_posix())
    report = [
        f"{ref}\n    in {files[0]}" + (f" and {len(files) - 1} other file(s)" if len(files) > 1 else "")
        for ref, files in sorted(offenders.items())
    ]
    assert not offenders, (
        f"the built site loads {len(offenders)} thing(s) from other hosts "
        "(a page must load everything from the site itself):\n" + "\n".join(report)
    )


# ---------------------------------------------------------------------------------------------------------------
# A real browser against the built site
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site_url(site):
    """Serve the built site on 127.0.0.1 at an ephemeral port for the duration of the module."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by playwright; skipped where missing, unless CI sets REQUIRE_BROWSER=1."""

    def unavailable(reason: str):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; REQUIRE_BROWSER=1 forbids skipping the browser test", pytrace=False)
        pytest.skip(reason)

    if not CHROMIUM.exists():
        unavailable("Chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname == "127.0.0.1"


@pytest.mark.browser
def test_browser_search_navigation_dark_mode_and_no_external_requests(chromium, site, site_url):
    from playwright.sync_api import expect

    T = 15_000  # ms to wait for each step (the search index loads in a worker)
    requests: list[str] = []  # every URL any page or worker of this test asked for
    errors: list[str] = []  # uncaught JavaScript errors, shown with a failing step
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, color_scheme="light")

    def record(route, request):
        requests.append(request.url)
        # A request to another host is answered locally with an error: the test records it and never waits on it.
        if _is_local(request.url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", record)
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))

    try:
        # Home page and the curriculum in the left sidebar.
        page.goto(site_url, wait_until="load")
        nav = page.locator("nav.md-nav--primary")
        for level in ["Beginner", "Intermediate", "Advanced"]:
            expect(nav.get_by_text(level, exact=True).first, f"sidebar shows {level}").to_be_visible(timeout=T)

        # Search (the index loads in a web worker) finds the Hello World tutorial.
        page.locator(".md-search__input").click()
        page.locator(".md-search__input").press_sequentially("emotion", delay=50)
        result = page.locator(".md-search-result__item a[href*='beginner/hello-world/']").filter(visible=True).first
        expect(result, "a search result for 'emotion' links to beginner/hello-world/").to_be_visible(timeout=T)

        # Following it opens the tutorial.
        result.click()
        page.wait_for_url(re.compile(r"/beginner/hello-world/"))
        expect(page.locator("article h1")).to_contain_text("Hello, World! Predicting emotion", timeout=T)
        assert page.title().startswith("Hello, World! Predicting emotion"), page.title()

        # Dark mode.
        body = page.locator("body")
        expect(body).to_have_attribute("data-md-color-scheme", "default")
        page.locator("form[data-md-component='palette'] label:visible").first.click()
        expect(body).to_have_attribute("data-md-color-scheme", "slate", timeout=T)

        # The rendered notebook, once the notebooks are generated.
        if (site / "notebooks" / "hello-world" / "index.html").is_file():
            page.goto(site_url + "notebooks/hello-world/", wait_until="load")
            page.wait_for_load_state("networkidle")
    except Exception as exc:
        exc.add_note(f"JavaScript errors so far: {errors or 'none'}")
        exc.add_note(f"requests to other hosts so far: {sorted({u for u in requests if not _is_local(u)}) or 'none'}")
        raise
    finally:
        context.close()

    external = sorted({url for url in requests if not _is_local(url)})
    assert not external, (
        f"the site made {len(external)} request(s) to other hosts:\n" + "\n".join(external)
    )


# ---------------------------------------------------------------------------------------------------------------
# Light pages and one search hit per page
# ---------------------------------------------------------------------------------------------------------------
MAX_PAGE_BYTES = 1_000_000  # a tutorial page with everything it loads, served uncompressed
_LOADS = re.compile(r'<(?:script|img)\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"')


def tutorial_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.glob("*/*/index.html") if p.parent.parent.name in ("beginner", "intermediate",
                                                                                     "advanced"))


def test_search_index_finds_each_page_once(site):
    docs = json.loads((site / "search" / "search_index.json").read_text("utf-8"))["docs"]
    pages = [d["location"] for d in docs if "#" not in d["location"]]
    assert not [p for p in pages if p.startswith("notebooks/")], "notebook pages are in the search index"
    assert len(pages) == len(set(pages)), "a page is in the search index twice"
    for page in tutorial_pages(site):
        assert page.parent.relative_to(site).as_posix() + "/" in pages, f"{page} is not in the search index"
    text = " ".join(d["text"] for d in docs)
    assert "--8<--" not in text and "import torch" not in text, "code blocks are indexed (tools/search_index.py)"
    solution = "both are one linear layer with a"  # words of a solution on the pretrained-Indonesian page
    assert solution in (site / "advanced" / "pretrained-indonesian" / "index.html").read_text("utf-8")
    assert solution not in text, "exercise solutions are indexed (tools/search_index.py)"


def page_weight(site: Path, page: Path) -> int:
    """Bytes of the page and of everything it loads from the site (scripts, styles, images), plus the search
    index that Material's search worker fetches on every page."""
    html = page.read_text("utf-8")
    total = len(html.encode()) + (site / "search" / "search_index.json").stat().st_size
    for src, href in _LOADS.findall(html):
        url = (src or href).split("?")[0].split("#")[0]
        target = (page.parent / url).resolve()
        if not is_external(url) and target.is_file():
            total += target.stat().st_size
    return total


def test_every_tutorial_page_weighs_under_a_megabyte(site):
    heavy = {page.parent.relative_to(site).as_posix(): page_weight(site, page) for page in tutorial_pages(site)}
    assert heavy, "no tutorial pages were built"
    too_heavy = {name: size for name, size in heavy.items() if size > MAX_PAGE_BYTES}
    assert not too_heavy, f"tutorial pages over {MAX_PAGE_BYTES:,} bytes with what they load: {too_heavy}"


def test_formulas_are_mathml_and_pages_load_no_math_script(site):
    """tools/math_mathml.py converts every formula at build time; KaTeX is only for notebooks."""
    page = (site / "beginner" / "hello-world" / "index.html").read_text("utf-8")
    assert "<math" in page and "\\(" not in page, "the hello-world formulas were not converted to MathML"
    for path in tutorial_pages(site):
        assert "katex" not in path.read_text("utf-8"), f"{path.relative_to(site)} loads KaTeX"


# The theme's colours (docs/stylesheets/theme.css), measured where a reader meets them: selector -> what it is.
CONTRAST_CHECKS = {
    "article p": "body text", "article p a": "a link in the text", "article h1": "the page title",
    ".md-header__topic": "the header title", ".md-nav__link": "a sidebar link", ".tutorial-card dd": "the card",
    ".highlight .c1": "a comment in code", ".highlight .go": "an output line", ".md-copyright": "the footer",
}
_COLOURS_JS = """selectors => selectors.map(selector => {
  const el = [...document.querySelectorAll(selector)].find(e => e.offsetParent !== null && e.textContent.trim());
  if (!el) return [selector, null, null];
  let bg = el, colour = 'rgba(0, 0, 0, 0)';
  while (bg && (colour = getComputedStyle(bg).backgroundColor).endsWith(', 0)')) bg = bg.parentElement;
  return [selector, getComputedStyle(el).color, bg ? colour : 'rgb(255, 255, 255)'];
})"""


def _rgba(css: str) -> tuple[float, ...]:
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    return (*values[:3], values[3] if len(values) > 3 else 1.0)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio; a translucent foreground is first blended over its background."""
    *fg, alpha = _rgba(foreground)
    bg = _rgba(background)[:3]
    fg = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg)]

    def luminance(rgb):
        channels = [c / 255 for c in rgb]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_wcag_examples():
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert round(contrast("rgb(118, 118, 118)", "rgb(255, 255, 255)"), 2) == 4.54  # #767676, the lightest AA grey
    assert contrast("rgba(0, 0, 0, 0.5)", "rgb(200, 200, 200)") == contrast("rgb(100, 100, 100)", "rgb(200, 200, 200)")
    assert contrast("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") == 1.0


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_theme_colours_have_enough_contrast(chromium, site_url, scheme):
    """Every kind of text of the theme reaches WCAG AA (4.5:1) in both colour schemes, so a change of a colour
    variable in docs/stylesheets/theme.css cannot silently make text unreadable."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(site_url + "beginner/hello-world/", wait_until="load")
        measured = page.evaluate(_COLOURS_JS, list(CONTRAST_CHECKS))
    finally:
        context.close()
    missing = [selector for selector, fg, _ in measured if fg is None]
    assert not missing, f"nothing visible matches {missing} on the hello-world page"
    low = [f"{CONTRAST_CHECKS[s]} ({s}): {contrast(fg, bg):.2f}:1, {fg} on {bg}" for s, fg, bg in measured
           if contrast(fg, bg) < 4.5]
    assert not low, f"{scheme} scheme: text below 4.5:1 contrast:\n" + "\n".join(low)
