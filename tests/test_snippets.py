"""Every snippet file runs, isolated and under a timeout, and prints what its page shows.

New files in snippets/ are collected automatically. `pytest --update-outputs` rewrites the recorded outputs in
docs/generated/; a normal run fails when what the code prints drifts from them (numbers within the tolerance
in tools/snippet_runner.py, overridable per file).
"""

import shutil
from pathlib import Path

import pytest

from tools.snippet_runner import SNIPPETS, check_recorded, read_config, run_snippet, write_recorded

SNIPPET_FILES = sorted(p for p in SNIPPETS.glob("*.py") if not p.name.startswith("_"))


def chained_group(snippet: Path) -> str | None:
    """A snippet declared `after=NAME`, and NAME itself, share one xdist group: the same process runs both, so the
    later one starts from the folder the earlier one left (and NAME is not trained twice)."""
    after = read_config(snippet)["after"]
    if after:
        return after
    if any(read_config(other)["after"] == snippet.stem for other in SNIPPET_FILES):
        return snippet.stem
    return None


SNIPPET_PARAMS = [pytest.param(p, id=p.name, marks=[pytest.mark.xdist_group(f"after-{chained_group(p)}")]
                               if chained_group(p) else []) for p in SNIPPET_FILES]
# What a snippet leaves in its folder, except what the runner itself collects (figures, its result file).
NOT_CARRIED = shutil.ignore_patterns("*.svg", "*.png", ".snippet-result.json")


@pytest.fixture(scope="session")
def finished_folders() -> dict[str, Path]:
    """Working folder of each snippet that ran without error in this session, for snippets declared `after=` it."""
    return {}


def working_folder(snippet: Path, tmp_path_factory, finished: dict[str, Path]) -> Path:
    """A fresh folder; for `after=NAME`, a copy of NAME's finished folder (NAME runs first if it has not yet)."""
    folder = tmp_path_factory.mktemp(snippet.stem)
    before = read_config(snippet)["after"]
    if before:
        if before not in finished:
            earlier = SNIPPETS / f"{before}.py"
            earlier_folder = working_folder(earlier, tmp_path_factory, finished)
            result = run_snippet(earlier, earlier_folder)
            if result.error:
                pytest.fail(f"{snippet.name} runs after {earlier.name}, which failed:\n{result.error}", pytrace=False)
            finished[before] = earlier_folder
        shutil.copytree(finished[before], folder, ignore=NOT_CARRIED, dirs_exist_ok=True)
    return folder


@pytest.mark.parametrize("snippet", SNIPPET_PARAMS)
def test_snippet_runs_and_matches_recorded_output(snippet: Path, tmp_path_factory, finished_folders,
                                                  update_outputs: bool) -> None:
    config = read_config(snippet)
    folder = working_folder(snippet, tmp_path_factory, finished_folders)
    result = run_snippet(snippet, folder, config["timeout"])
    if result.error:
        pytest.fail(result.error, pytrace=False)
    finished_folders[snippet.stem] = folder
    # pytorch/tutorials' lesson: a tutorial that silently did nothing is a failure.
    assert any(text.strip() for text in result.outputs.values()), f"{snippet.name} ran but printed nothing"
    if update_outputs:
        write_recorded(snippet, result)
        return
    problems = check_recorded(snippet, result, config["rtol"], config["atol"], volatile=config["volatile"],
                              volatile_values=config["volatile_values"])
    assert not problems, "\n".join(problems) + "\nIf the change is intended: pytest --update-outputs"
