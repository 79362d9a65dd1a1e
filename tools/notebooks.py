"""Build each tutorial's notebook from its page and its snippet file (never edit the notebooks by hand).

Prose becomes Markdown cells, each included snippet section becomes a code cell, recorded outputs are dropped
(the notebook produces its own), generated figures are attached to the cell that shows them, and links to other
pages point at the published site. A first code cell makes the notebook work outside the repository: it
fetches the data helper `dlnlp/data.py` (checked against its SHA-256), which in turn fetches and verifies the
data files. Run `python tools/notebooks.py` (or `pytest --update-outputs`) to rewrite docs/notebooks/.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import mimetypes
import re
import sys
import tomllib
from pathlib import Path

import nbformat
from mkdocs.utils.meta import get_data
from mkdocs.utils.yaml import yaml_load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import page_values  # noqa: E402
from tools.snippet_runner import SnippetError, parse_sections, relative  # noqa: E402

DOCS = ROOT / "docs"
NOTEBOOKS = DOCS / "notebooks"
HELPER_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "dlnlp").glob("*.py"))

FENCE = re.compile(r"^(\s*)(`{3,})\s*([\w+-]*)(.*)$")
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$')
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s#]+\.md)(#[^)\s]*)?\)")
ADMONITION = re.compile(r'^(\s*)(!!!|\?\?\?\+?)\s+(\w+)(?:\s+"([^"]*)")?\s*$')


def tutorial_pages() -> list[Path]:
    """Pages whose front matter declares a level: each gets a notebook named after its file."""
    return sorted(p for p in DOCS.rglob("*.md") if "level" in get_data(p.read_text(encoding="utf-8"))[1])


def site_settings() -> dict:
    config = yaml_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    repository = config["extra"]["repository"].rstrip("/")
    owner_repo = repository.removeprefix("https://github.com/")
    return {
        "site_url": config["extra"]["published_url"].rstrip("/") + "/",
        "raw_url": f"https://raw.githubusercontent.com/{owner_repo}/{config['extra']['branch']}",
    }


def helper_digests() -> dict[str, str]:
    return {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest() for name in HELPER_FILES}


# What Colab ships for this work (distribution names): a notebook never reinstalls these, so Colab's torch stays.
COLAB_BASE = {"torch", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib", "tqdm"}


def pins() -> dict[str, str]:
    """Distribution -> version, from the exact pins in pyproject.toml (the versions the site was tested with)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for requirement in config["dependencies"] + config["optional-dependencies"]["dev"]:
        name, _, version = requirement.partition("==")
        found[name.strip().lower()] = version.strip()
    return found


def imported_modules(sources: list[str]) -> set[str]:
    """Top-level modules that the code imports, following imports of dlnlp modules into their files."""
    found: set[str] = set()
    todo = list(sources)
    seen_helpers: set[str] = set()
    while todo:
        for node in ast.walk(ast.parse(todo.pop())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            if isinstance(node, ast.ImportFrom) and node.module == "dlnlp":  # from dlnlp import encoder: its file
                names += [f"dlnlp.{alias.name}" for alias in node.names]
            for name in names:
                found.add(name.split(".")[0])
                helper = ROOT / (name.replace(".", "/") + ".py")
                if name.startswith("dlnlp.") and helper.exists() and name not in seen_helpers:
                    seen_helpers.add(name)
                    todo.append(helper.read_text(encoding="utf-8"))
    return found


def packages_to_install(sources: list[str]) -> dict[str, str]:
    """Distribution -> pinned version, for what the code imports beyond the standard library and Colab's base."""
    distributions = importlib.metadata.packages_distributions()
    pinned = pins()
    needed = {}
    for module in sorted(imported_modules(sources) - set(sys.stdlib_module_names) - {"dlnlp"}):
        for distribution in distributions.get(module, []):
            name = distribution.lower()
            if name not in COLAB_BASE:
                if name not in pinned:
                    raise SnippetError(f"notebooks import {module!r} (package {distribution}), which pyproject.toml "
                                       "does not pin: add it with an exact version")
                needed[name] = pinned[name]
    return needed


def setup_cell(raw_url: str, packages: dict[str, str] | None = None) -> str:
    digests = helper_digests()
    lines = [
        "# Setup, needed only outside the repository (Colab, a downloaded notebook). It installs the packages this",
        "# page needs beyond Colab's own, at the versions the site was tested with (Colab's torch is kept), then",
        "# fetches the data helper, checked against the SHA-256 it had when this notebook was built; it fetches and",
        "# verifies the data.",
        "import hashlib, importlib.metadata, importlib.util, os, pathlib, subprocess, sys, urllib.request",
        "",
        f"PACKAGES = {packages or {}!r}",
        "",
        "def installed(name):",
        "    try:",
        "        return importlib.metadata.version(name)",
        "    except importlib.metadata.PackageNotFoundError:",
        "        return None",
        "",
        'missing = [f"{name}=={version}" for name, version in PACKAGES.items() if installed(name) != version]',
        "if missing:",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)',
        "",
        f'os.environ.setdefault("DLNLP_DATA_URL", "{raw_url}")',
        f"HELPERS = {digests!r}",
        'if importlib.util.find_spec("dlnlp") is None:',
        "    for name, digest in HELPERS.items():",
        '        data = urllib.request.urlopen(f"{os.environ[\'DLNLP_DATA_URL\']}/{name}").read()',
        "        assert hashlib.sha256(data).hexdigest() == digest, f'{name}: checksum mismatch'",
        "        pathlib.Path(name).parent.mkdir(exist_ok=True)",
        "        pathlib.Path(name).write_bytes(data)",
    ]
    return "\n".join(lines)


class NotebookBuilder:
    def __init__(self, page: Path, settings: dict):
        self.page = page
        self.settings = settings
        self.cells: list = []
        self.markdown: list[str] = []
        self.attachments: dict = {}

    def flush(self) -> None:
        text = "\n".join(self.markdown).strip()
        if text:
            cell = nbformat.v4.new_markdown_cell(text)
            if self.attachments:
                cell.attachments = self.attachments
            self.cells.append(cell)
        self.markdown, self.attachments = [], {}

    def code(self, source: str) -> None:
        self.flush()
        self.cells.append(nbformat.v4.new_code_cell(source.strip("\n")))

    def included_code(self, reference: str, line_number: int) -> str:
        file, _, section = reference.partition(":")
        library = file.startswith("dlnlp/")
        path = ROOT / file if library else ROOT / "snippets" / file
        where = f"{relative(self.page)}, line {line_number}"
        if library and path.exists() and not section:
            return path.read_text(encoding="utf-8")  # a whole library file, shown for reading
        if not path.exists() or not section:
            raise SnippetError(f"{where}: includes {reference!r}; expected an existing snippets/FILE.py:SECTION")
        for candidate in parse_sections(path):
            if candidate.name == section:
                return candidate.code
        raise SnippetError(f"{where}: {relative(path)} has no section '{section}'")

    def included_markdown(self, reference: str, line_number: int) -> list[str]:
        path = DOCS / reference
        if ":" in reference or not path.is_relative_to(DOCS / "generated") or not path.exists():
            raise SnippetError(f"{relative(self.page)}, line {line_number}: includes {reference!r} in the prose;"
                               " expected an existing docs/generated/ file (run pytest --update-outputs)")
        return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("<!--")]

    def prose_line(self, line: str) -> str:
        def image(match: re.Match) -> str:
            target = (self.page.parent / match.group(2)).resolve()
            if not target.is_relative_to(DOCS / "generated"):
                return match.group(0)
            if not target.exists():
                raise SnippetError(f"{relative(self.page)}: shows {match.group(2)}, which is missing;"
                                   " run pytest --update-outputs")
            mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.attachments[target.name] = {mime: base64.b64encode(target.read_bytes()).decode()}
            return f"![{match.group(1)}](attachment:{target.name})"

        def link(match: re.Match) -> str:
            target = (self.page.parent / match.group(2)).resolve().relative_to(DOCS).with_suffix("")
            url = self.settings["site_url"] + ("" if target.name == "index" else target.as_posix() + "/")
            return f"[{match.group(1)}]({url}{match.group(3) or ''})"

        return LINK.sub(link, IMAGE.sub(image, line))

    def walk(self, lines: list[str], first_line: int, quoted: bool) -> None:
        """Turn page lines into cells; inside an admonition (quoted) code stays Markdown, never a cell."""
        i = 0
        while i < len(lines):
            line = lines[i]
            if ADMONITION.match(line):
                i = self.admonition(lines, i, first_line)
                continue
            fence = FENCE.match(line)
            prose_include = INCLUDE.match(line) if not fence else None
            if prose_include:  # a generated Markdown table included in the prose: the notebook gets its text
                self.markdown.extend(self.included_markdown(prose_include.group(1), first_line + i))
                i += 1
                continue
            if not fence:
                self.markdown.append(self.prose_line(line))
                i += 1
                continue
            indent, ticks, language, _ = fence.groups()
            start, block, i = i, [], i + 1
            while i < len(lines) and not lines[i].strip().startswith(ticks):
                block.append(lines[i][len(indent):])
                i += 1
            i += 1
            includes = [INCLUDE.match(item) for item in block if item.strip()]
            library = False
            if includes and all(includes):
                if language != "python":
                    continue  # recorded outputs are dropped: running the notebook prints them
                # Library code (dlnlp/...) is shown for reading; the notebook imports it, never runs it twice.
                library = any(m.group(1).startswith("dlnlp/") for m in includes)
                code = "".join(self.included_code(m.group(1), first_line + start) for m in includes)
                block = code.rstrip("\n").splitlines()
            if language == "python" and not quoted and not library:
                self.code("\n".join(block))
            else:
                self.markdown.extend([f"{ticks}{language}", *block, ticks])

    def admonition(self, lines: list[str], i: int, first_line: int) -> int:
        """`!!! note "Title"` + indented body -> a blockquote; `???` (collapsed) -> <details>."""
        indent, marker, kind, title = ADMONITION.match(lines[i]).groups()
        title = title if title is not None else kind.capitalize()
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(indent + "    ")):
            j += 1
        while j > i + 1 and not lines[j - 1].strip():
            j -= 1
        body = [line[len(indent) + 4:] for line in lines[i + 1: j]]
        outer, self.markdown = self.markdown, []
        self.walk(body, first_line + i + 1, quoted=True)
        inner, self.markdown = self.markdown, outer
        if marker.startswith("???"):
            self.markdown.extend([f"<details><summary>{title}</summary>", "", *inner, "", "</details>"])
        else:
            self.markdown.extend([f"> **{title}**", ">", *[f"> {line}".rstrip() for line in inner]])
        return j

    def build(self) -> nbformat.NotebookNode:
        text = self.page.read_text(encoding="utf-8")
        body, meta = get_data(text)
        offset = text[: len(text) - len(body)].count("\n")  # front-matter lines, for error line numbers
        try:  # measured values in the prose: the same sentence as on the site
            body = page_values.fill(body, relative(self.page), first_line=offset + 1)
        except page_values.MarkerError as error:
            raise SnippetError(str(error)) from None
        tested = page_values.tested_with(page_values.snippets_of(body))
        lines = body.splitlines()
        title = meta["title"]
        while lines and not lines[0].strip():  # the page's own H1 (if any) becomes the notebook's first line
            lines.pop(0)
            offset += 1
        if lines and lines[0].startswith("# "):
            title = lines.pop(0)[2:].strip()
            offset += 1
        source = f"docs/{self.page.relative_to(DOCS).as_posix()}"
        url = f"{self.settings['site_url']}{self.page.relative_to(DOCS).with_suffix('').as_posix()}/"
        self.markdown = [
            f"# {title}",
            "",
            f"*Generated from `{source}` and its snippet file by `tools/notebooks.py`; do not edit."
            f" [Read it on the site]({url}).*",
        ]
        if tested:
            self.markdown += ["", f"*Tested with {tested}.*"]
        self.flush()
        self.code("")  # the setup cell, written once the code cells are known
        setup_index = len(self.cells) - 1
        self.walk(lines, offset + 1, quoted=False)
        self.flush()
        code = [cell.source for cell in self.cells if cell.cell_type == "code"]
        self.cells[setup_index].source = setup_cell(self.settings["raw_url"], packages_to_install(code))
        notebook = nbformat.v4.new_notebook(cells=self.cells)
        notebook.metadata = {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
        for number, cell in enumerate(notebook.cells):
            cell.id = f"cell-{number}"  # stable ids: regenerating an unchanged page changes nothing
        return notebook


def render(page: Path) -> str:
    notebook = NotebookBuilder(page, site_settings()).build()
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def notebook_path(page: Path) -> Path:
    return NOTEBOOKS / f"{page.stem}.ipynb"


def write_all() -> list[Path]:
    NOTEBOOKS.mkdir(exist_ok=True)
    written = []
    for page in tutorial_pages():
        notebook_path(page).write_text(render(page), encoding="utf-8")
        written.append(notebook_path(page))
    for stale in set(NOTEBOOKS.glob("*.ipynb")) - set(written):
        stale.unlink()
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {relative(path)}")
