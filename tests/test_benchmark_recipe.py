"""The IndoNLU recipe at full size (benchmarks/recipe.py): its recorded run, its generated tables, its settings."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from benchmark_files import assert_generated_files_match

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # recipe.py imports zoo.py from its own folder, as when run
_spec = importlib.util.spec_from_file_location("benchmark_recipe", ROOT / "benchmarks" / "recipe.py")
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)

RERUN = "run `python benchmarks/recipe.py` (about 10 minutes on 2 cores)"


@pytest.fixture(scope="module")
def results() -> dict:
    assert recipe.RESULTS.exists(), f"{recipe.RESULTS.relative_to(ROOT)} is missing: {RERUN}"
    return json.loads(recipe.RESULTS.read_text(encoding="utf-8"))


def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    assert_generated_files_match(recipe, results, update_outputs)


def test_the_recipe_page_shows_every_table(results: dict) -> None:
    page = (ROOT / "docs" / "advanced" / "indonlu-recipe.md").read_text(encoding="utf-8")
    for name in recipe.render(results):
        assert f'--8<-- "generated/benchmark_recipe/{name}"' in page, f"indonlu-recipe.md does not include {name}"


def test_the_recorded_run_used_the_fixed_settings_on_the_pretrained_checkpoint(results: dict) -> None:
    assert results["args"] == recipe.ARGS, f"the recorded run used other settings than benchmarks/recipe.py: {RERUN}"
    row = results["result"]
    assert row["checkpoint"] == "e5-offline" and row["dataset"] == "emot"
    assert 1 <= row["best_epoch"] <= 2 and 0.0 <= row["test_f1"] <= 1.0
    assert row["parameters"] > 100_000_000, "the full multilingual model, not the tiny one"
