"""Find numbers in the prose of the pages that look measured but come from no run and no citation.

A number next to a word of measurement (faster, times, x, %, F1, accuracy, seconds, epochs, parameters, ...) is
a claim. It is fine when it is

- inserted from the run that measured it (a `{{ snippet.name }}` marker, see tools/page_values.py),
- cited: its sentence carries a footnote (`[^name]`), an author-year citation ("Wilie et al. (2020)",
  "(Kim, 2014)") or a link to a paper,
- a constant of the code: the same number is a literal in a snippet the page includes (`epochs=12` in the
  code makes "12 epochs" in the prose a description of the code, not a measurement), or in a file the page's
  front matter names under `code:` (the results page describes the bars of `benchmarks/zoo.py`),
- in code: inline `code`, code fences, and the included outputs, which are generated.

Anything else is listed with its page and line. Run `python tools/prose_numbers.py` for the list;
tests/test_pages.py requires it to be empty.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from mkdocs.utils.meta import get_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.page_values import MARKER, prose_lines, snippets_of  # noqa: E402

DOCS = ROOT / "docs"
# Symbols follow the number directly ("1.3x", "87%", "2.5 s"); words may be up to two words away ("12 training
# epochs"); metric names may also come first ("macro-F1 of 0.74", "accuracy 0.81", "speed-up: 1.09").
SYMBOLS = r"x|×|%|s|ms|min|h|MB|GB|KB|MiB|GiB"
WORDS = (r"faster|slower|speed-?ups?|times|percent|per\s?cent|points?|(?:macro-|micro-)?F1|accuracy|precision|"
         r"recall|perplexity|loss|scores?|seconds?|milliseconds?|minutes?|hours?|epochs?|steps|parameters?|"
         r"params|weights|tokens?/s|sentences?\s+per\s+second")
METRICS = r"speed-?ups?|(?:macro-|micro-)?F1|accuracy|precision|recall|perplexity|loss|score"
NUMBER = r"(?<![\w.,/-])(\d+(?:[,_]\d{3})*(?:\.\d+)?)"
RANGE = r"(?:\s*(?:-|–|to)\s*\d+(?:\.\d+)?)?"
AFTER = re.compile(NUMBER + RANGE + r"(?:\s?(?:" + SYMBOLS + r")(?![\w-])|\s+(?:[\w-]+\s+){0,2}?(?:" + WORDS
                   + r")(?![\w-]))")
BEFORE = re.compile(r"(?<![\w-])(?:" + METRICS + r")(?:\s+[\w-]+){0,3}?\s*[:=]?\s+" + NUMBER + r"(?![\w.,]*\d)",
                    re.I)
CITED = re.compile(r"\[\^[^\]]+\]|et al\.|\*[^*]+\*[^.]*\b(?:19|20)\d{2}\b|\([A-Z][A-Za-z-]+(?: and [A-Z][A-Za-z-]+)?,? \d{4}\)|"
                   r"[A-Z][A-Za-z-]+ \(\d{4}\)|\]\(https?://(?:arxiv\.org|aclanthology\.org|doi\.org|papers\.)", re.I)
# Numbers that name a kind of thing rather than measure it: "a 95% interval", "the 95th percentile".
DEFINITIONS = re.compile(r"\b\d+% (?:bootstrap |confidence )*interval|\b\d+(?:st|nd|rd|th) percentile|"
                         r"\bmiddle \d+%", re.I)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+\1")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
HTML = re.compile(r"<[^>]+>")
SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[A-Z*_(\[`])")


def code_constants(stems: list[str], files: list[str] = ()) -> set[float]:
    """Every numeric literal in the snippets (and their solutions files) that a page includes, and in `files`
    (paths relative to the repository root)."""
    numbers: set[float] = set()
    paths = [ROOT / "snippets" / f"{stem}{suffix}.py" for stem in stems for suffix in ("", "_solutions")]
    for path in paths + [ROOT / name for name in files]:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                numbers.add(float(node.value))
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):  # 2**18 -> 262144
                try:
                    numbers.add(float(eval(compile(ast.Expression(node), "", "eval"), {})))  # noqa: S307
                except Exception:  # noqa: BLE001 - not a constant expression
                    pass
    return numbers


def paragraphs(markdown: str):
    """(first line number, text) of each paragraph of prose: consecutive prose lines; table rows and list items
    start their own; code fences, includes, comments and footnote definitions are left out."""
    current: list[str] = []
    start = 0
    in_comment = False
    for number, line in prose_lines(markdown):
        stripped = line.strip()
        if "<!--" in stripped:
            in_comment = "-->" not in stripped
            stripped = re.sub(r"<!--.*?(-->|$)", "", stripped)
        elif in_comment:
            in_comment = "-->" not in stripped
            continue
        new_block = (not stripped or stripped.startswith(("|", "-", "*", "#", "!!!", "???", "1.", "[^"))
                     or re.match(r"^\d+\.\s", stripped) or "--8<--" in stripped)
        if new_block and current:
            yield start, " ".join(current)
            current = []
        if not stripped or "--8<--" in stripped or stripped.startswith("[^"):
            continue
        if not current:
            start = number
        current.append(stripped)
    if current:
        yield start, " ".join(current)


def findings(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    body, meta = get_data(text)
    offset = text[: len(text) - len(body)].count("\n")
    missing = [name for name in meta.get("code", []) if not (ROOT / name).is_file()]
    if missing:
        return [f"{page.relative_to(ROOT)}: front matter 'code:' names {missing}, which do not exist"]
    constants = code_constants(snippets_of(body), meta.get("code", []))
    found = []
    for line, paragraph in paragraphs(body):
        clean = HTML.sub(" ", LINK_TARGET.sub("]", INLINE_CODE.sub(" CODE ", MARKER.sub(" VALUE ", paragraph))))
        clean = DEFINITIONS.sub(" DEFINITION ", clean)
        for sentence, raw in zip(SENTENCE_END.split(clean), SENTENCE_END.split(paragraph)):
            if CITED.search(raw):
                continue
            for pattern in (AFTER, BEFORE):
                for match in pattern.finditer(sentence):
                    number = float(match.group(1).replace(",", "").replace("_", ""))
                    if number in constants:
                        continue
                    found.append(f"{page.relative_to(ROOT)}, line {line + offset}: '{match.group(0).strip()}' in "
                                 f"\"{sentence.strip()[:120]}\"")
    return list(dict.fromkeys(found))


def all_findings() -> list[str]:
    return [item for page in sorted(DOCS.rglob("*.md")) for item in findings(page)]


if __name__ == "__main__":
    items = all_findings()
    print("\n".join(items))
    print(f"{len(items)} hand-typed numbers that look measured (neither inserted from a run nor cited)")
