"""The cross-lingual benchmark (benchmarks/crosslingual.py): its recorded results, its tables and the page's claims."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from benchmark_files import assert_generated_files_match

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # crosslingual.py imports zoo.py and finetune.py from its own folder
_spec = importlib.util.spec_from_file_location("benchmark_crosslingual", ROOT / "benchmarks" / "crosslingual.py")
crosslingual = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crosslingual)

RERUN = "run `python benchmarks/crosslingual.py`"
PAGE = ROOT / "docs" / "advanced" / "cross-lingual.md"


@pytest.fixture(scope="module")
def results() -> dict:
    assert crosslingual.RESULTS.exists(), f"{crosslingual.RESULTS.relative_to(ROOT)} is missing: {RERUN}"
    return json.loads(crosslingual.RESULTS.read_text(encoding="utf-8"))


def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    assert_generated_files_match(crosslingual, results, update_outputs)


def test_page_includes_the_generated_tables(results: dict) -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in crosslingual.render(results):
        assert f'--8<-- "generated/benchmark_crosslingual/{name}"' in text, f"the page does not include {name}"


def test_the_recorded_run_is_full_size(results: dict) -> None:
    rows = results["rows"]
    assert [row["language"] for row in rows] == ["ind", "eng", *crosslingual.LOCAL], RERUN
    assert all(row["n_test"] == 400 for row in rows), f"not the full test sets: {RERUN}"
    assert results["settings"]["seed_spread"] < 1e-6  # the page: seeds give the same model


def test_the_page_claims_hold_at_full_size(results: dict) -> None:
    """What the prose says about the models also holds in the recorded full-size run."""
    s = crosslingual.summary_numbers(results)
    rows = {row["language"]: row for row in results["rows"]}
    local = crosslingual.LOCAL
    assert s["e5_drop"] < s["tfidf_drop"]
    assert rows["eng"]["e5_f1"] > rows["eng"]["tfidf_f1"] + 0.2
    assert abs(rows["eng"]["e5_f1"] - rows["ind"]["e5_f1"]) < 0.05
    for model in ("tfidf_f1", "e5_f1"):
        assert set(sorted(local, key=lambda c: rows[c][model])[:2]) == {"bug", "bbc"}
        assert rows["bbc"][model] < 0.4
    assert set(sorted(local, key=lambda c: rows[c]["tfidf_f1"])[-2:]) == {"bjn", "min"}
    assert min(local, key=lambda c: rows[c]["word_seen"]) == "bug"
    assert all(row["piece_seen"] > row["word_seen"] and row["piece_unk"] == 0 for row in rows.values())
    assert s["e5_clear_losses"] == 0


def test_published_rows_are_the_ones_the_other_benchmarks_cite() -> None:
    languages = {language for _, language, _ in crosslingual.PUBLISHED}
    assert languages == {"Indonesian", "English"}  # no local-language row we could not check
    assert len(crosslingual.PUBLISHED) == 9
