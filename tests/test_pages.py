"""Pages and snippets agree: every snippet section is shown, every include resolves, inline code runs."""

import re
from pathlib import Path

import pytest
from mkdocs.utils.meta import get_data
from pytest_codeblocks import extract_from_file

from tools.snippet_runner import SNIPPETS, parse_sections, relative

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$', re.M)
LEVELS = {"Beginner", "Intermediate", "Advanced"}
TUTORIAL_KEYS = {"title", "description", "level", "tags", "time", "prerequisites", "objectives"}


def includes() -> dict[str, list[str]]:
    """Included reference (e.g. 'hello_world.py:train') -> pages that include it."""
    found: dict[str, list[str]] = {}
    for page in PAGES:
        for reference in INCLUDE.findall(page.read_text(encoding="utf-8")):
            found.setdefault(reference, []).append(relative(page))
    return found


def is_include_only(code: str) -> bool:
    lines = [line for line in code.splitlines() if line.strip()]
    return bool(lines) and all(INCLUDE.match(line) for line in lines)


INLINE_BLOCKS = [
    pytest.param(block, id=f"{page.relative_to(DOCS)}:{block.lineno}")
    for page in PAGES
    for block in extract_from_file(page)
    if block.syntax == "python" and not is_include_only(block.code)
]


@pytest.mark.parametrize("block", INLINE_BLOCKS)
def test_inline_python_fence_runs(block) -> None:
    """Fences written directly in a page (not included from a snippet) are executed too."""
    assert "--8<--" not in block.code, "a fence mixes an include with inline code; split it"
    exec(compile(block.code, "<page fence>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("snippet", sorted(SNIPPETS.glob("*.py")), ids=lambda p: p.name)
def test_every_section_is_shown_on_a_page(snippet: Path) -> None:
    """A snippet has no code that no page shows (FastAPI found examples no page covered)."""
    shown = includes()
    missing = [s.name for s in parse_sections(snippet) if f"{snippet.name}:{s.name}" not in shown]
    assert not missing, f"{relative(snippet)}: sections not included by any page: {missing}"


def test_every_include_resolves() -> None:
    problems = []
    for reference, pages in includes().items():
        file, _, section = reference.partition(":")
        candidates = [ROOT / "snippets" / file, DOCS / file, ROOT / file]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            if not file.startswith("generated/"):  # outputs appear after the first run; the build checks them
                problems.append(f"{pages[0]}: includes {reference!r}: no such file in snippets/, docs/ or the repository root")
        elif section and path.suffix == ".py" and section not in {s.name for s in parse_sections(path)}:
            problems.append(f"{pages[0]}: includes {reference!r}: {relative(path)} has no section '{section}'")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", [p for p in PAGES if "level" in get_data(p.read_text(encoding="utf-8"))[1]],
                         ids=lambda p: str(p.relative_to(DOCS)))
def test_tutorial_front_matter(page: Path) -> None:
    meta = get_data(page.read_text(encoding="utf-8"))[1]
    missing = TUTORIAL_KEYS - meta.keys()
    assert not missing, f"{relative(page)}: front matter lacks {sorted(missing)}"
    assert meta["level"] in LEVELS, f"{relative(page)}: level {meta['level']!r} is not one of {sorted(LEVELS)}"
    for key in ("tags", "prerequisites", "objectives"):
        assert isinstance(meta[key], list) and meta[key], f"{relative(page)}: '{key}' must be a non-empty list"


def test_tutorial_file_names_are_unique() -> None:
    """Notebooks are named after their page's file name, so two tutorials may not share one."""
    stems = [p.stem for p in PAGES if p.name != "index.md"]
    assert len(stems) == len(set(stems)), f"duplicate page file names: {sorted(stems)}"


def test_no_hand_typed_measurements() -> None:
    """A number next to 'faster', '%', 'F1', 'seconds', 'epochs', ... is inserted from the run that measured it
    ({{ snippet.name }}), cited, or a constant of the page's code (tools/prose_numbers.py says how it decides)."""
    from tools.prose_numbers import all_findings

    found = all_findings()
    assert not found, ("numbers that look measured but are neither inserted from a run nor cited:\n"
                       + "\n".join(found))


def test_every_measured_value_in_the_prose_is_recorded() -> None:
    """Every {{ snippet.name }} marker of every page resolves to a value its snippet's last recorded run left."""
    from tools import page_values

    problems = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        try:
            page_values.fill(text, relative(page))
        except page_values.MarkerError as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)
