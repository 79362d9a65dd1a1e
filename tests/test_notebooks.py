"""Each tutorial's notebook is generated from its page and snippet, and is up to date."""

import subprocess
import sys
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


def test_update_outputs_writes_the_notebooks_after_the_snippets() -> None:
    """Notebooks embed the figures that snippet tests rewrite, so --update-outputs must order them last."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--update-outputs", "-p", "no:cacheprovider"],
        cwd=notebooks.ROOT, capture_output=True, text=True, check=True).stdout
    files = [line.split("::")[0] for line in collected.splitlines() if "::" in line]
    last_snippet = max(i for i, name in enumerate(files) if name.endswith("test_snippets.py"))
    first_notebook = min(i for i, name in enumerate(files) if name.endswith("test_notebooks.py"))
    assert last_snippet < first_notebook


def test_no_orphan_notebooks() -> None:
    orphans = {p.name for p in notebooks.NOTEBOOKS.glob("*.ipynb")} - {f"{p.stem}.ipynb" for p in PAGES}
    assert not orphans, f"notebooks without a tutorial page: {sorted(orphans)}; delete them"


@pytest.fixture
def repository_server():
    """The repository served on 127.0.0.1, standing in for the published raw-file URL."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(notebooks.ROOT))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_setup_cell_fetches_and_verifies_the_helpers(tmp_path: Path, repository_server: str, monkeypatch) -> None:
    """Outside the repository (no dlnlp installed) the first cell downloads dlnlp/ and checks its SHA-256."""
    import importlib.util

    source = notebooks.setup_cell("unused")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLNLP_DATA_URL", repository_server)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    exec(source, {})
    for name in notebooks.HELPER_FILES:
        assert (tmp_path / name).read_bytes() == (notebooks.ROOT / name).read_bytes()

    (tmp_path / "dlnlp").rename(tmp_path / "served")  # now serve a tampered helper
    tampered = source.replace(repr(notebooks.helper_digests()), "{'dlnlp/data.py': '0' * 64}")
    with pytest.raises(AssertionError, match="dlnlp/data.py: checksum mismatch"):
        exec(tampered, {})


# Executing every notebook would run every tutorial twice. The path that only notebooks take (the setup cell,
# downloading and verifying data, a Jupyter kernel) is the same for all of them, and their code cells are the
# snippet sections test_snippets.py runs; the freshness test above ties the two. So one notebook runs end to end.
NOTEBOOK_RUNS = [p for p in PAGES if p.stem == "hello-world"]


@pytest.mark.parametrize("page", NOTEBOOK_RUNS, ids=lambda p: p.stem)
def test_notebook_runs_outside_the_repository(page: Path, tmp_path: Path, repository_server: str, monkeypatch) -> None:
    """Run the generated notebook in a Jupyter kernel, in an empty folder, fetching its data over HTTP."""
    import nbclient
    import nbformat

    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path / "cache"))  # empty: any data file is downloaded and verified
    monkeypatch.setenv("DLNLP_DATA_URL", repository_server)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(notebooks.notebook_path(page), as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.get("text")]
    assert printed, f"{notebooks.notebook_path(page).name} ran but printed nothing"
