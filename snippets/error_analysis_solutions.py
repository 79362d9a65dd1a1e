# tutorial-test: timeout=180
# Solutions to the exercises of docs/intermediate/error-analysis.md. Each one trains the page's model again (seed
# 0, the same settings) and changes nothing because of the test split: test is only diagnosed.

# --8<-- [start:exercise-1]
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: on a small CPU, BLAS threads only slow down
import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.stats import bootstrap
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import tokenize
from dlnlp.zoo import Settings, run

torch.manual_seed(0)
torch.set_num_threads(1)

LABELS = labels("smsa")
train, valid, test = (load("smsa", split) for split in ("train", "valid", "test"))
y_valid = np.array([LABELS.index(label) for label in valid["label"]])
y_test = np.array([LABELS.index(label) for label in test["label"]])


class WordBag(nn.Module):  # the page's model and settings
    def __init__(self, vocab_size: int, n_classes: int, dim: int = 64, dropout: float = 0.3):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0, sparse=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.embed(ids)))


result = run("word_bag", "smsa", WordBag, Settings(epochs=5, lr=2e-2, batch_size=128, patience=2), seed=0)
valid_proba, test_proba = np.array(result.valid_proba), np.array(result.test_proba)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    return sum((bins == b).mean() * abs(correct[bins == b].mean() - confidence[bins == b].mean())
               for b in range(n_bins) if (bins == b).any())


def with_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Divide the logits by T and apply softmax again (log-probabilities are the logits up to a constant)."""
    logits = np.log(np.clip(proba, 1e-7, 1)) / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def valid_nll(temperature: float) -> float:  # T is fitted on VALID, never on test
    p = with_temperature(valid_proba, temperature)
    return -np.log(p[np.arange(len(y_valid)), y_valid]).mean()


temperature = minimize_scalar(valid_nll, bounds=(0.25, 5), method="bounded").x
scaled = with_temperature(test_proba, temperature)
ece_before = expected_calibration_error(test_proba.max(1), (test_proba.argmax(1) == y_test).astype(float))
ece_after = expected_calibration_error(scaled.max(1), (scaled.argmax(1) == y_test).astype(float))
print(f"temperature fitted on valid: {temperature:.2f}")
print(f"test ECE: {ece_before:.3f} before, {ece_after:.3f} after temperature scaling")
assert (scaled.argmax(1) == test_proba.argmax(1)).all()  # one T for all classes never changes a prediction
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
NEGATIONS = {"tidak", "tak", "bukan", "belum", "jangan", "enggak", "nggak", "gak", "ga", "tdk", "kurang"}
test_pred = test_proba.argmax(1)
negated = np.array([any(token in NEGATIONS for token in tokenize(text)) for text in test["text"]])
print("                 texts  accuracy  macro-F1")
for name, rows in (("with negation", negated), ("without negation", ~negated)):
    accuracy = (test_pred[rows] == y_test[rows]).mean()
    f1 = f1_score(y_test[rows], test_pred[rows], average="macro")
    print(f"{name:<16} {rows.sum():5d}  {accuracy:8.3f}  {f1:8.3f}")
negated_accuracy = (test_pred[negated] == y_test[negated]).mean()
plain_accuracy = (test_pred[~negated] == y_test[~negated]).mean()
print("gold labels of the texts with negation:",
      {label: int((y_test[negated] == i).sum()) for i, label in enumerate(LABELS)})
assert negated_accuracy > plain_accuracy  # texts WITH a negation word are classified more accurately here
assert (y_test[negated] == LABELS.index("negative")).mean() > 0.5  # ... but most of them are gold negative
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)  # word 1- and 2-grams
x_train, x_valid = vectorizer.fit_transform(train["text"]), vectorizer.transform(valid["text"])
y_train = np.array([LABELS.index(label) for label in train["label"]])
best_c, best_valid = None, -1.0
for c in (0.1, 1.0, 10.0):  # C chosen on VALID macro-F1
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(x_train, y_train)
    valid_f1 = f1_score(y_valid, model.predict(x_valid), average="macro")
    print(f"C={c:<5} valid macro-F1 {valid_f1:.3f}")
    if valid_f1 > best_valid:
        best_c, best_valid, baseline = c, valid_f1, model
baseline_pred = baseline.predict(vectorizer.transform(test["text"]))
baseline_f1 = f1_score(y_test, baseline_pred, average="macro")


def difference(y, bag, tfidf):  # both models scored on the SAME resampled test texts
    return f1_score(y, bag, average="macro") - f1_score(y, tfidf, average="macro")


observed = difference(y_test, test_pred, baseline_pred)
interval = bootstrap((y_test, test_pred, baseline_pred), difference, paired=True, vectorized=False,
                     n_resamples=1000, method="percentile", rng=np.random.default_rng(0)).confidence_interval
interval_low, interval_high = float(interval.low), float(interval.high)
print(f"test macro-F1: bag of words {result.test_f1:.3f}, TF-IDF + logistic regression (C={best_c}) {baseline_f1:.3f}")
print(f"difference {observed:+.3f}, 95% paired bootstrap interval [{interval_low:+.3f}, {interval_high:+.3f}]")
difference_is_noise = interval_low < 0 < interval_high
print("the interval contains 0 (no clear winner):", difference_is_noise)
assert not difference_is_noise and observed < 0  # on test, the bag of words is clearly behind TF-IDF + LR
both_wrong = int(((test_pred != y_test) & (baseline_pred != y_test)).sum())
print(f"mistakes: bag {(test_pred != y_test).sum()}, TF-IDF {(baseline_pred != y_test).sum()}, both {both_wrong}")
# --8<-- [end:exercise-3]
