r"""MkDocs hook: formulas become MathML when the site is built, so pages with math need no script to show them.

pymdownx.arithmatex (generic mode) marks each formula: `<span class="arithmatex">\( ... \)</span>` inline and
`<div class="arithmatex">\[ ... \]</div>` on its own line. This hook converts the TeX inside to MathML with
latex2mathml; browsers draw MathML themselves (Chromium since version 109, Firefox, Safari), offline, with no
half-megabyte of KaTeX script and fonts on every page that has a formula. A formula latex2mathml cannot read
is a warning naming the page (so `mkdocs build --strict` fails). Notebook pages keep Jupyter's `$...$` and are
rendered by KaTeX (overrides/main.html). Registered in mkdocs.yml under `hooks:`.
"""

from __future__ import annotations

import html
import logging
import re

from latex2mathml.converter import convert

# latex2mathml writes \ln, \log, \exp ... as a plain <mi>, which browsers set tight against what follows
# ("lnp"); TeX puts a thin space after a function name.
FUNCTION_NAME = re.compile(r"(<mi>(?:ln|log|exp|sin|cos|tan|tanh|softmax)</mi>)")
FORMULA = re.compile(r'<(span|div) class="arithmatex">\s*\\[(\[](.*?)\\[)\]]\s*</\1>', re.S)
log = logging.getLogger("mkdocs.hooks.math_mathml")


def to_mathml(match: re.Match, where: str) -> str:
    tag, tex = match.group(1), html.unescape(match.group(2)).strip()
    try:
        mathml = convert(tex, display="block" if tag == "div" else "inline")
    except Exception as error:  # noqa: BLE001 - latex2mathml raises many kinds; report them all the same way
        log.warning(f"{where}: formula {tex!r} cannot be converted to MathML: {error}")
        return match.group(0)
    mathml = FUNCTION_NAME.sub(r'\1<mspace width="0.1667em"></mspace>', mathml)
    return f'<{tag} class="arithmatex">{mathml}</{tag}>'


def on_page_content(content, page, config, files):
    where = f"docs/{page.file.src_uri}"
    return FORMULA.sub(lambda match: to_mathml(match, where), content)
