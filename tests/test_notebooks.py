"""Each tutorial's notebook is generated from its page and snippet, and is up to date."""

from pathlib import Path

import pytest

from tools import notebooks

PAGES = notebooks.tutorial_pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_notebook_is_generated_and_fresh(page: Path, update_outputs: bool) -> None:
    expected = notebooks.render(page)
    path = notebooks.notebook_path(page)
    if update_outputs:
        path.parent.mkdir(exist_ok=True)
        path.write_text(expected, encoding="utf-8")
        return
    assert path.exists(), f"{path.relative_to(notebooks.ROOT)} is missing: run pytest --update-outputs"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(notebooks.ROOT)} is stale ({page.relative_to(notebooks.ROOT)} or its snippet changed):"
        " run pytest --update-outputs"
    )


def test_no_orphan_notebooks() -> None:
    orphans = {p.name for p in notebooks.NOTEBOOKS.glob("*.ipynb")} - {f"{p.stem}.ipynb" for p in PAGES}
    assert not orphans, f"notebooks without a tutorial page: {sorted(orphans)}; delete them"
