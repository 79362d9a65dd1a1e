"""The fine-tuning benchmark (benchmarks/finetune.py): its recorded results, its generated tables and its bar."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from benchmark_files import assert_generated_files_match

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # finetune.py imports zoo.py from its own folder, as when run
_spec = importlib.util.spec_from_file_location("benchmark_finetune", ROOT / "benchmarks" / "finetune.py")
finetune = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(finetune)

RERUN = "run `python benchmarks/finetune.py` (see benchmarks/README.md)"


@pytest.fixture(scope="module")
def results() -> dict:
    assert finetune.RESULTS.exists(), f"{finetune.RESULTS.relative_to(ROOT)} is missing: {RERUN}"
    return json.loads(finetune.RESULTS.read_text(encoding="utf-8"))


def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    assert_generated_files_match(finetune, results, update_outputs)


def test_pages_include_the_generated_tables(results: dict) -> None:
    for page in ("intermediate/results.md", "advanced/fine-tuning.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert '--8<-- "generated/benchmark_finetune/comparison.txt"' in text, f"{page} does not show the results"
    results_page = (ROOT / "docs" / "intermediate" / "results.md").read_text(encoding="utf-8")
    for name in finetune.render(results):
        assert f'--8<-- "generated/benchmark_finetune/{name}"' in results_page, f"results.md does not include {name}"


def test_bars_are_computed_from_the_fine_tuned_row() -> None:
    row = {"model": finetune.FINETUNED, "test_f1": 0.859, "seconds": 100.0}
    assert [b["passed"] for b in finetune.check_bars([row])] == [False, True]
    assert [b["passed"] for b in finetune.check_bars([{**row, "test_f1": 0.86, "seconds": 301.0}])] == [True, False]
    assert not any(b["passed"] for b in finetune.check_bars([{**row, "model": finetune.FROZEN, "test_f1": 0.99}]))


def test_the_bar_held_in_the_recorded_run(results: dict) -> None:
    models = {row["model"] for row in results["results"]}
    assert models == {finetune.FINETUNED, finetune.FROZEN}, f"results hold {sorted(models)}: {RERUN}"
    assert all(row["dataset"] == "nusax_en" for row in results["results"])
    failed = [f"{bar['bar']}: {bar['achieved']}, required {bar['required']}" for bar in results["bars"]
              if not bar["passed"]]
    assert not failed, "bars not met:\n" + "\n".join(failed)
