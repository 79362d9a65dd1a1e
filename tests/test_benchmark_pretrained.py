"""The pretrained-encoder benchmark (benchmarks/pretrained.py): its recorded results, its generated tables, its bars."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from benchmark_files import assert_generated_files_match

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # pretrained.py imports zoo.py from its own folder, as when run
_spec = importlib.util.spec_from_file_location("benchmark_pretrained", ROOT / "benchmarks" / "pretrained.py")
pretrained = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pretrained)

RERUN = "run `python benchmarks/pretrained.py` (about half an hour)"


@pytest.fixture(scope="module")
def results() -> dict:
    if not pretrained.RESULTS.exists():
        pytest.skip(f"{pretrained.RESULTS.relative_to(ROOT)} is not recorded yet: {RERUN}")
    return json.loads(pretrained.RESULTS.read_text(encoding="utf-8"))


def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    assert_generated_files_match(pretrained, results, update_outputs)


def test_results_are_consistent(results: dict) -> None:
    rows = results["results"]
    tuned = pretrained.tuned_variant(rows)
    assert tuned, "no fine-tuned rows"
    for dataset in pretrained.DATASETS:
        seeds = sorted(r["seed"] for r in rows if r["dataset"] == dataset and r["variant"] == tuned)
        assert seeds == [0, 1, 2], f"{dataset}: fine-tuned seeds {seeds}, expected 0, 1, 2: {RERUN}"
        assert any(r["dataset"] == dataset and r["variant"] == pretrained.FROZEN for r in rows)
    for row in rows:
        assert {"valid_f1", "test_f1", "train_seconds", "frozen_seconds"} <= row.keys()
    for s in results["summary"]:  # the summary is the mean of the rows it summarises
        group = [r["test_f1"] for r in rows if r["dataset"] == s["dataset"] and r["variant"] == s["variant"]]
        assert abs(sum(group) / len(group) - s["test_f1_mean"]) < 1e-3
        low, high = s["difference_interval"]
        assert low <= s["difference"] + 1e-4 and s["difference"] <= high + 1e-4
    assert results["bars"] == pretrained.check_bars(results["summary"])


def test_the_page_includes_the_tables(results: dict) -> None:
    text = (ROOT / "docs" / "advanced" / "pretrained-indonesian.md").read_text(encoding="utf-8")
    for name in pretrained.render(results):
        assert f'--8<-- "generated/benchmark_pretrained/{name}"' in text, f"the page does not include {name}"


def test_what_the_page_says_of_the_full_run_holds(results: dict) -> None:
    """The bullets under 'What the full run says' on the page, checked against the recorded run."""
    by = {(s["dataset"], s["variant"]): s for s in results["summary"]}
    tuned = pretrained.tuned_variant(results["results"])
    for variant in (pretrained.FROZEN, tuned):
        assert by["nusax_id", variant]["difference_interval"][0] > 0, "NusaX: E5 ahead of TF-IDF beyond the noise"
        low, high = by["smsa", variant]["difference_interval"]
        assert by["smsa", variant]["difference"] > 0 and low < 0 < high, "SmSA: ahead, but within the noise"
        assert by["emot", variant]["difference_interval"][1] < 0, "EmoT: TF-IDF ahead beyond the noise"
    assert by["nusax_id", tuned]["test_f1_mean"] <= by["nusax_id", pretrained.FROZEN]["test_f1_mean"], (
        "NusaX: fine-tuning the top layer did not beat the frozen vectors")
    assert all(bar["passed"] == bar["bar"].endswith("training seconds (slowest seed)") or
               bar["bar"] == "NusaX Indonesian: above TF-IDF beyond the noise" for bar in results["bars"]), (
        "only the time bars (and NusaX's TF-IDF bar) pass")


def test_the_quick_run_chose_what_the_full_run_chose(results: dict) -> None:
    """The page says the grid sees the same data in both runs, so both chose the same layers and learning rate."""
    recorded = ROOT / "docs" / "generated" / "pretrained_indonesian" / "values.json"
    quick = json.loads(recorded.read_text(encoding="utf-8"))["values"]
    tuned = pretrained.tuned_variant(results["results"])
    full = {(r["k"], r["lr"]) for r in results["results"] if r["variant"] == tuned}
    assert full == {(quick["best_k"], quick["best_lr"])}, f"full run {full}, quick run {quick['best_k'], quick['best_lr']}"


def test_bars_are_computed_from_the_fine_tuned_rows() -> None:
    summary = [{"dataset": d, "variant": "top1_finetuned", "test_f1_mean": t, "difference_interval": [0.01, 0.05],
                "train_seconds_max": 100.0} for d, t in pretrained.TARGETS.items()]
    assert all(b["passed"] for b in pretrained.check_bars(summary))
    summary[0] = {**summary[0], "test_f1_mean": summary[0]["test_f1_mean"] - 0.001}
    summary[1] = {**summary[1], "difference_interval": [-0.01, 0.05]}
    summary[2] = {**summary[2], "train_seconds_max": 301.0}
    assert [b["passed"] for b in pretrained.check_bars(summary)] == [False, True, True, True, False, True,
                                                                    True, True, False]


@pytest.mark.xfail(strict=True, reason=(
    "the recorded run (2026-12-02, seeds 0, 1, 2, settings chosen on NusaX valid: top 1 layer, lr 3e-4, 3 epochs) "
    "misses five bars: fine-tuned test macro-F1, mean of seeds, EmoT 0.6493 < 0.72, SmSA 0.7986 < 0.85, NusaX "
    "Indonesian 0.8375 < 0.85; vs TF-IDF (paired bootstrap 95% interval) EmoT -0.056 [-0.097, -0.012] (below "
    "TF-IDF), SmSA +0.037 [-0.008, +0.078] (not beyond the noise); NusaX +0.072 [+0.035, +0.110] passes; training "
    "time bars pass (88.2 s, 116.6 s, 23.1 s). A missed bar is a result: no setting is changed after seeing test. "
    "strict: this test turns red once a run meets every bar, so the marker must then be removed"))
def test_every_bar_passed(results: dict) -> None:
    failed = [f"{bar['bar']}: {bar['achieved']}, required {bar['required']}" for bar in results["bars"]
              if not bar["passed"]]
    assert not failed, "bars not met:\n" + "\n".join(failed)
