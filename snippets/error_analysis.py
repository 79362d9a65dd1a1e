# tutorial-test: timeout=180
# --8<-- [start:setup]
import matplotlib

matplotlib.use("Agg")  # draw into files, no window
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import bootstrap
from sklearn.metrics import ConfusionMatrixDisplay, classification_report, f1_score
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import Vocab, tokenize
from dlnlp.zoo import Settings, majority_f1, run

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread: fast for a model this small, and steady on a busy machine

DATASET = "smsa"
LABELS = labels(DATASET)  # ['negative', 'neutral', 'positive']
SEEDS = (0, 1, 2, 3, 4)  # fixed before any run; the model we analyse is the first one, not the best one
train, valid, test = (load(DATASET, split) for split in ("train", "valid", "test"))
y_valid = np.array([LABELS.index(label) for label in valid["label"]])
y_test = np.array([LABELS.index(label) for label in test["label"]])
# --8<-- [end:setup]

# --8<-- [start:train]
class WordBag(nn.Module):
    """A bag of word embeddings (the zoo's first model, without the n-grams): mean of the word vectors -> linear."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 64, dropout: float = 0.3):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0, sparse=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.embed(ids)))


# Chosen by a few runs that looked at valid macro-F1 only; nothing below changes them.
settings = Settings(epochs=5, lr=2e-2, batch_size=128, patience=2)
result = run("word_bag", DATASET, WordBag, settings, seed=SEEDS[0])  # train, early-stop on valid, score test
print(result)
print(f"majority-class test macro-F1 {majority_f1(DATASET):.3f}")

test_proba = np.array(result.test_proba)  # (500, 3): one probability per class for every test text
test_pred = test_proba.argmax(axis=1)
valid_f1, test_f1 = result.valid_f1, result.test_f1
assert test_proba.shape == (len(test), len(LABELS))
assert np.allclose(test_proba.sum(axis=1), 1, atol=1e-3)  # each row is a probability distribution
# --8<-- [end:train]

# --8<-- [start:report]
print(classification_report(y_test, test_pred, target_names=LABELS, digits=3))
report = classification_report(y_test, test_pred, target_names=LABELS, output_dict=True)
for i, label in enumerate(LABELS):  # the definitions, checked against the report
    predicted_as, gold_is = test_pred == i, y_test == i
    assert np.isclose(report[label]["precision"], (predicted_as & gold_is).sum() / predicted_as.sum())
    assert np.isclose(report[label]["recall"], (predicted_as & gold_is).sum() / gold_is.sum())
f1_per_class = {label: report[label]["f1-score"] for label in LABELS}
assert np.isclose(np.mean(list(f1_per_class.values())), test_f1)  # macro-F1 = plain mean of the class F1s
hardest = min(f1_per_class, key=f1_per_class.get)
hardest_f1 = f1_per_class[hardest]
print(f"lowest F1: {hardest} ({hardest_f1:.3f})")

# Which label does the model say too often, and which too rarely?
surplus = np.bincount(test_pred, minlength=len(LABELS)) - np.bincount(y_test, minlength=len(LABELS))
overused, underused = LABELS[surplus.argmax()], LABELS[surplus.argmin()]
overused_surplus, underused_deficit = int(surplus.max()), int(-surplus.min())
print(f"predicted too often: {overused} (+{overused_surplus}), too rarely: {underused} (-{underused_deficit})")
assert report[overused]["recall"] > report[overused]["precision"]  # said too often: finds them, with false alarms
assert report[underused]["precision"] > report[underused]["recall"]  # said too rarely: right when it does, misses
overused_precision, overused_recall = report[overused]["precision"], report[overused]["recall"]
underused_precision, underused_recall = report[underused]["precision"], report[underused]["recall"]
# --8<-- [end:report]

# --8<-- [start:confusion]
display = ConfusionMatrixDisplay.from_predictions(
    [LABELS[i] for i in y_test], [LABELS[i] for i in test_pred], labels=LABELS, cmap="Blues", colorbar=False)
display.ax_.set(xlabel="predicted label", ylabel="gold label", title="SmSA test set, seed 0")
display.figure_.tight_layout()
display.figure_.savefig("error_analysis_confusion.svg")
plt.close(display.figure_)

matrix = display.confusion_matrix  # rows: gold label, columns: predicted label
errors = matrix - np.diag(np.diag(matrix))  # only the mistakes
gold_i, pred_i = np.unravel_index(errors.argmax(), errors.shape)
confused_gold, confused_pred = LABELS[gold_i], LABELS[pred_i]
confused_count = int(errors.max())
confused_share = confused_count / matrix[gold_i].sum()  # share of that gold class that went to the wrong label
mistakes_total = int(errors.sum())
opposite = {confused_gold, confused_pred} == {"negative", "positive"}
confused_kind = "the opposite sentiment, the worst kind" if opposite else "a step to or from neutral"
print(matrix)
print(f"{mistakes_total} mistakes; the most common: gold {confused_gold}, predicted {confused_pred}: "
      f"{confused_count} texts ({confused_share:.0%} of the {confused_gold} texts), {confused_kind}")
assert mistakes_total == (test_pred != y_test).sum()
# --8<-- [end:confusion]

# --8<-- [start:mistakes]
TOP = 10  # how many mistakes we read
confidence = test_proba.max(axis=1)  # the probability of the predicted label
wrong = np.flatnonzero(test_pred != y_test)
most_confident = wrong[np.argsort(-confidence[wrong], kind="stable")][:TOP]
for rank, i in enumerate(most_confident, start=1):
    text = test["text"].iloc[i]
    shown = text if len(text) <= 110 else text[:107] + "..."
    print(f"{rank:2d}. p={confidence[i]:.3f}  gold {LABELS[y_test[i]]:<8}  predicted {LABELS[test_pred[i]]:<8}")
    print(f"    {shown}")
assert (confidence[most_confident] >= np.median(confidence[wrong])).all()
# --8<-- [end:mistakes]

# --8<-- [start:clues]
NEGATIONS = {"tidak", "tak", "bukan", "belum", "jangan", "enggak", "nggak", "gak", "ga", "tdk", "kurang"}
vocab = Vocab(train["text"], min_freq=2)  # the same vocabulary run() built: words seen twice in train


def has_negation(text: str) -> bool:
    return any(token in NEGATIONS for token in tokenize(text))


def unknown_share(text: str) -> float:
    tokens = tokenize(text)
    return sum(token not in vocab.stoi for token in tokens) / len(tokens)


texts = test["text"].tolist()
negation_top = sum(has_negation(texts[i]) for i in most_confident)
negation_all = np.mean([has_negation(text) for text in texts])
unknown_top = np.mean([unknown_share(texts[i]) for i in most_confident])
unknown_all = np.mean([unknown_share(text) for text in texts])
print(f"contain a negation word: {negation_top} of the top {TOP} mistakes, {negation_all:.0%} of all test texts")
print(f"share of unknown words:  {unknown_top:.1%} in the top {TOP} mistakes, {unknown_all:.1%} in all test texts")
assert abs(negation_top / TOP - negation_all) < 0.2  # negation is about as common as in any test text ...
assert unknown_top < unknown_all  # ... and these confident mistakes have FEWER unknown words than usual

# Slang that praises in one text of the list: what does it usually come with in TRAIN?
negative_share = {}
for word in ("gila", "parah"):  # "crazy", "severe"
    gold_with_word = train["label"][train["text"].map(lambda text: word in tokenize(text))]
    negative_share[word] = (gold_with_word == "negative").mean()
    print(f"'{word}' in {len(gold_with_word)} training texts, {negative_share[word]:.0%} of them negative")
gila_negative, parah_negative = negative_share["gila"], negative_share["parah"]
assert min(gila_negative, parah_negative) > 0.5
# --8<-- [end:clues]

# --8<-- [start:ece]
N_BINS = 10


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE (Guo et al., 2017): the gap |accuracy - confidence| of each equal-width bin, weighted by its share."""
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)  # bin b holds (b/10, (b+1)/10]
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
            ece += in_bin.mean() * gap  # in_bin.mean(): the share of all examples that fall into bin b
    return ece


# A hand check on four predictions: bins (0.9, 1] -> |1 - 0.95|, (0.8, 0.9] -> |0 - 0.85|, (0.6, 0.7] -> |1 - 0.635|
tiny = expected_calibration_error(np.array([0.95, 0.85, 0.65, 0.62]), np.array([1, 0, 1, 1]))
assert np.isclose(tiny, 0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.365)  # = 0.4075

correct = (test_pred == y_test).astype(float)
test_ece = expected_calibration_error(confidence, correct)
valid_proba = np.array(result.valid_proba)
valid_ece = expected_calibration_error(valid_proba.max(axis=1), (valid_proba.argmax(axis=1) == y_valid).astype(float))
mean_confidence, test_accuracy = confidence.mean(), correct.mean()
print(f"test:  mean confidence {mean_confidence:.3f}, accuracy {test_accuracy:.3f}, ECE {test_ece:.3f}")
print(f"valid: ECE {valid_ece:.3f}")
assert 0 <= test_ece <= 1 and 0 <= valid_ece <= 1
assert mean_confidence > test_accuracy  # over-confident on test: it claims more than it gets right
assert test_ece > valid_ece  # well calibrated on valid, which looks like train; less so on the shifted test
# --8<-- [end:ece]

# --8<-- [start:reliability]
bins = np.clip(np.ceil(confidence * N_BINS).astype(int) - 1, 0, N_BINS - 1)
edges = np.linspace(0, 1, N_BINS + 1)
print("bin          texts  confidence  accuracy")
accuracy_per_bin = np.full(N_BINS, np.nan)
for b in range(N_BINS):
    in_bin = bins == b
    if in_bin.any():
        accuracy_per_bin[b] = correct[in_bin].mean()
        print(f"({edges[b]:.1f}, {edges[b + 1]:.1f}]  {in_bin.sum():5d}  {confidence[in_bin].mean():10.3f}"
              f"  {accuracy_per_bin[b]:8.3f}")

fig, ax = plt.subplots(figsize=(4.2, 4.2))
ax.bar(edges[:-1], np.nan_to_num(accuracy_per_bin), width=1 / N_BINS, align="edge", edgecolor="black",
       label="accuracy in the bin")
ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
ax.set(xlabel="confidence (probability of the predicted label)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
       title=f"Reliability diagram, SmSA test (ECE {test_ece:.3f})")
ax.legend(loc="upper left")
fig.tight_layout()
fig.savefig("error_analysis_reliability.svg")
plt.close(fig)
# --8<-- [end:reliability]

# --8<-- [start:seeds]
results = [result] + [run("word_bag", DATASET, WordBag, settings, seed=seed) for seed in SEEDS[1:]]
print("seed  best epoch  valid macro-F1  test macro-F1")
for r in results:
    print(f"{r.seed:4d}  {r.best_epoch:10d}  {r.valid_f1:14.3f}  {r.test_f1:13.3f}")
valid_f1s = np.array([r.valid_f1 for r in results])
test_f1s = np.array([r.test_f1 for r in results])
valid_mean, valid_std, valid_range = valid_f1s.mean(), valid_f1s.std(ddof=1), valid_f1s.max() - valid_f1s.min()
test_mean, test_std, test_range = test_f1s.mean(), test_f1s.std(ddof=1), test_f1s.max() - test_f1s.min()
print(f"valid: mean {valid_mean:.3f}, std {valid_std:.3f}, range {valid_range:.3f}")
print(f"test:  mean {test_mean:.3f}, std {test_std:.3f}, range {test_range:.3f}")
best_valid_seed, best_test_seed = SEEDS[valid_f1s.argmax()], SEEDS[test_f1s.argmax()]
print(f"best seed on valid: {best_valid_seed}, best seed on test: {best_test_seed}")

# The same mistake made by every seed: the first place to look for a wrong or debatable gold label
all_seeds_wrong = sum(all(np.argmax(r.test_proba[i]) != y_test[i] for r in results) for i in most_confident)
print(f"of the top {TOP} mistakes of seed 0, {all_seeds_wrong} are made by all {len(SEEDS)} seeds")
assert all_seeds_wrong > TOP // 2  # most confident mistakes are systematic, not bad luck of one seed
# --8<-- [end:seeds]

# --8<-- [start:bootstrap]
# 95% interval of the test macro-F1: resample the 500 test texts with replacement, 1000 times (as benchmarks/zoo.py)
interval = bootstrap((y_test, test_pred), lambda y, pred: f1_score(y, pred, average="macro"), paired=True,
                     vectorized=False, n_resamples=1000, method="percentile",
                     rng=np.random.default_rng(0)).confidence_interval
low, high = float(interval.low), float(interval.high)
interval_width = high - low
print(f"seed 0 test macro-F1 {test_f1:.3f}, 95% bootstrap interval [{low:.3f}, {high:.3f}] (width {interval_width:.3f})")
assert low < test_f1 < high
noise_ratio = interval_width / test_range
assert noise_ratio > 2  # the seeds move the score far less than the test set's own sampling noise
# --8<-- [end:bootstrap]
