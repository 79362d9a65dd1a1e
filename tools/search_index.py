"""MkDocs hook: what goes into the search index, so that each page is found once and the index stays light.

- **Notebooks are left out.** Each tutorial exists twice on the site: its page and its notebook (docs/notebooks/,
  rendered by mkdocs-jupyter for "View as notebook" and the download). Both hold the same text, so indexing both
  showed every hit twice. Material's search skips a page whose metadata says `search: {exclude: true}`; notebooks
  have no front matter, so this hook sets it.
- **Code blocks are left out.** Every page loads the whole index, and the tutorials' code and outputs were 40% of
  it. Readers search for ideas ("padding", "early stopping") and for the API names that the prose names in inline
  code, which stays indexed. Material's search skips an element with the `data-search-exclude` attribute; this hook
  adds it to the highlighted code blocks (`<div class="highlight">`, written by pymdownx.highlight).
- **Exercise solutions are left out.** They are collapsed (`??? success "Solution"`) and mostly restate their
  page with that page's numbers; the exercise itself stays indexed, so a search still lands on it. With every page
  loading the whole index, each tutorial added makes every other page heavier (tests/test_site.py weighs them).

Registered in mkdocs.yml under `hooks:`; tests/test_site.py checks the built index.
"""

CODE_BLOCK = '<div class="highlight">'
SOLUTION = '<details class="success">'


def on_page_content(html, page, config, files):
    if page.file.src_uri.startswith("notebooks/") and page.file.src_uri.endswith(".ipynb"):
        page.meta["search"] = {**(page.meta.get("search") or {}), "exclude": True}
        return html
    html = html.replace(CODE_BLOCK, '<div class="highlight" data-search-exclude>')
    return html.replace(SOLUTION, '<details class="success" data-search-exclude>')
