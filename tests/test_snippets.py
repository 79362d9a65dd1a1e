"""Every snippet file runs, isolated and under a timeout, and prints what its page shows.

New files in snippets/ are collected automatically. `pytest --update-outputs` rewrites the recorded outputs in
docs/generated/; a normal run fails when what the code prints drifts from them (numbers within the tolerance
in tools/snippet_runner.py, overridable per file).
"""

from pathlib import Path

import pytest

from tools.snippet_runner import SNIPPETS, check_recorded, read_config, run_snippet, write_recorded

SNIPPET_FILES = sorted(p for p in SNIPPETS.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("snippet", SNIPPET_FILES, ids=lambda p: p.name)
def test_snippet_runs_and_matches_recorded_output(snippet: Path, tmp_path: Path, update_outputs: bool) -> None:
    config = read_config(snippet)
    result = run_snippet(snippet, tmp_path, config["timeout"])
    if result.error:
        pytest.fail(result.error, pytrace=False)
    # pytorch/tutorials' lesson: a tutorial that silently did nothing is a failure.
    assert any(text.strip() for text in result.outputs.values()), f"{snippet.name} ran but printed nothing"
    if update_outputs:
        write_recorded(snippet, result)
        return
    problems = check_recorded(snippet, result, config["rtol"], config["atol"], volatile=config["volatile"])
    assert not problems, "\n".join(problems) + "\nIf the change is intended: pytest --update-outputs"
