"""The sequence-labelling benchmark (benchmarks/tagging.py): its scoring, its recorded run, its generated tables."""

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest
from benchmark_files import assert_generated_files_match
from seqeval.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # tagging.py imports zoo.py from its own folder, as when run
_spec = importlib.util.spec_from_file_location("benchmark_tagging", ROOT / "benchmarks" / "tagging.py")
tagging = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tagging)

RERUN = "run `python benchmarks/tagging.py` (about 15 minutes on 2 cores)"
PAGE = ROOT / "docs" / "intermediate" / "sequence-labelling.md"


@pytest.fixture(scope="module")
def results() -> dict:
    assert tagging.RESULTS.exists(), f"{tagging.RESULTS.relative_to(ROOT)} is missing: {RERUN}"
    return json.loads(tagging.RESULTS.read_text(encoding="utf-8"))


def random_tags(rng: random.Random, n: int) -> list[str]:
    # B-, I- and O of two types, ill-formed I- tags included: seqeval reads those as new entities
    return [rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) for _ in range(n)]


def test_f1_from_sentence_counts_is_seqeval_f1() -> None:
    rng = random.Random(0)
    for _ in range(20):
        gold = [random_tags(rng, rng.randint(1, 12)) for _ in range(30)]
        pred = [random_tags(rng, len(g)) for g in gold]
        fast = float(tagging.f1_from_counts(tagging.sentence_counts(gold, pred)))
        assert fast == pytest.approx(f1_score(gold, pred), abs=1e-12)


def test_paired_difference_is_zero_for_the_same_predictions_and_positive_for_better_ones() -> None:
    rng = random.Random(1)
    gold = [random_tags(rng, rng.randint(2, 10)) for _ in range(200)]
    noisy = [[t if rng.random() < 0.6 else "O" for t in g] for g in gold]
    diff, bounds = tagging.paired_difference(gold, [noisy, noisy], noisy, resamples=200)
    assert diff == 0 and bounds == [0.0, 0.0]
    diff, bounds = tagging.paired_difference(gold, [gold], noisy, resamples=200)
    assert diff > 0 and 0 < bounds[0] <= diff <= bounds[1]


def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    assert_generated_files_match(tagging, results, update_outputs)


def test_the_page_shows_every_table(results: dict) -> None:
    page = PAGE.read_text(encoding="utf-8")
    for name in tagging.render(results):
        assert f'--8<-- "generated/benchmark_tagging/{name}"' in page, f"sequence-labelling.md does not include {name}"


def test_the_recorded_run_trained_every_seed_on_both_datasets(results: dict) -> None:
    from dlnlp.zoo import SEEDS

    for dataset in tagging.DATASETS:
        rows = [r for r in results["results"] if r["dataset"] == dataset]
        assert sorted(r["seed"] for r in rows if r["model"] == "bilstm") == list(SEEDS), RERUN
        assert [r["seed"] for r in rows if r["model"] == "logreg"] == [None], "one deterministic baseline row"
        assert all(1 <= r["best_epoch"] <= 10 for r in rows if r["model"] == "bilstm")
        assert all(0.0 <= r["test_f1"] <= 1.0 for r in rows)
    assert [s["dataset"] for s in results["summary"]] == list(tagging.DATASETS)


def test_what_the_page_says_of_the_full_run_holds(results: dict) -> None:
    """The bullets under 'What the full run says' on the page, checked against the recorded run."""
    summary = {s["dataset"]: s for s in results["summary"]}
    nerp, posp = summary["nerp"], summary["posp"]
    assert nerp["difference_interval"][0] > 0, "NERP: the BiLSTM is no longer above the baseline beyond the noise"
    assert nerp["test_f1_std"] < nerp["difference"] / 5, "NERP: the seeds no longer agree closely"
    assert posp["difference_interval"][0] < 0 < posp["difference_interval"][1], "POSP: no longer a tie"
    published = {name: (nerp_f1, posp_f1) for name, nerp_f1, posp_f1 in tagging.PUBLISHED}
    assert abs(100 * nerp["test_f1_mean"] - published["mBERT"][0]) < 1, "NERP: not within a point of mBERT"
    assert published["IndoBERT large (p1)"][0] - 100 * nerp["test_f1_mean"] > 5, "NERP: IndoBERT large not far ahead"
    assert all(abs(100 * posp["test_f1_mean"] - f1) < 3 for _, f1 in published.values()), "POSP: rows not close"
    assert all(r["best_epoch"] >= 9 for r in results["results"] if r["model"] == "bilstm"), \
        "some seed kept an early epoch: the page says every seed kept one of its last two"
    page = PAGE.read_text(encoding="utf-8")
    assert "What the full run says" in page
