"""MkDocs hook: list each level's tutorials on that level's page.

A *tutorial* is a page whose front matter sets ``level:`` (Beginner, Intermediate or Advanced).
A *level page* is a page whose front matter sets ``level_index:`` to one of those levels.
To each level page this hook appends the level's tutorials in navigation order: the title as a link,
the ``description`` front matter as an excerpt, and the estimated ``time``.

Front matter is read from the source files in ``on_files`` (before any page is rendered), so it does not
matter in which order MkDocs processes the pages. Registered in mkdocs.yml under ``hooks:``.
"""

from __future__ import annotations

import posixpath
import re

from mkdocs.exceptions import PluginError
from mkdocs.utils.meta import get_data

LEVELS = ("Beginner", "Intermediate", "Advanced")

_meta: dict[str, dict] = {}  # src_uri -> front matter, for every Markdown page
_titles: dict[str, str] = {}  # src_uri -> title (front matter `title`, else the first "# " heading)
_order: list[str] = []  # src_uri of the Markdown pages, in navigation order


def on_files(files, config):
    _meta.clear()
    _titles.clear()
    for file in files.documentation_pages():
        if not file.src_uri.endswith(".md"):
            continue  # notebooks (mkdocs-jupyter) carry no front matter
        markdown, meta = get_data(file.content_string)
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.MULTILINE)
        _meta[file.src_uri] = meta
        _titles[file.src_uri] = meta.get("title") or (heading.group(1) if heading else file.name)
        # A typo in `level` would silently drop the tutorial from its level page: fail the build instead.
        for key in ("level", "level_index"):
            if key in meta and meta[key] not in LEVELS:
                raise PluginError(
                    f"{file.src_uri}: front matter '{key}: {meta[key]}' is not one of {', '.join(LEVELS)}"
                )
    return files


def on_nav(nav, config, files):
    in_nav = [page.file.src_uri for page in nav.pages]
    # Pages missing from the navigation (MkDocs warns about those) come last, sorted by path.
    _order[:] = in_nav + sorted(set(_meta) - set(in_nav))
    return nav


def on_page_markdown(markdown, page, config, files):
    level = page.meta.get("level_index")
    if not level:
        return markdown
    tutorials = [src for src in _order if _meta.get(src, {}).get("level") == level]
    if not tutorials:
        return markdown + "\n\n## Tutorials\n\nTutorials for this level are being written.\n"
    lines = ["", "", "## Tutorials", ""]
    here = posixpath.dirname(page.file.src_uri)
    for src in tutorials:
        meta = _meta[src]
        # A link relative to this page's source file, so MkDocs validates it like any hand-written link.
        link = posixpath.relpath(src, here or ".")
        lines.append(f"- **[{_titles[src]}]({link})**  ")  # two trailing spaces: line break
        details = [meta.get("description"), meta.get("time") and f":material-clock-outline: {meta['time']}"]
        lines.append("  " + " · ".join(str(d) for d in details if d))  # same list item, next line
    return markdown + "\n".join(lines) + "\n"
