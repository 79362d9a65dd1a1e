# tutorial-test: timeout=400
# --8<-- [start:setup]
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # set before importing transformers: never contact the Hugging Face Hub
import matplotlib

matplotlib.use("Agg")  # draw into files, no window
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_union

from dlnlp import encoder
from dlnlp.data import NUSAX_LOCAL, labels, load
from dlnlp.text import tokenize
from dlnlp.zoo import FULL, SEEDS

torch.manual_seed(0)
torch.set_num_threads(2)  # the 12-layer encoder's matrix products are large enough to share out

LABELS = labels("nusax_id")  # ['negative', 'neutral', 'positive']
# Twelve test languages: ISO 639-3 code -> dataset name. Indonesian first: it is the one we train on.
LANGUAGES = {"ind": "nusax_id", "eng": "nusax_en", **{code: f"nusax_{code}" for code in NUSAX_LOCAL}}
NAMES = {"ind": "Indonesian", "eng": "English", **{c: f.replace("_", " ").title() for c, f in NUSAX_LOCAL.items()}}
N_TEST = None if FULL else 100  # quick run: the first 100 test sentences of each language; the benchmark: all 400

train, valid = load("nusax_id", "train"), load("nusax_id", "valid")  # Indonesian only
tests = {code: load(name, "test").iloc[:N_TEST] for code, name in LANGUAGES.items()}
y_train = np.array([LABELS.index(label) for label in train["label"]])
y_valid = np.array([LABELS.index(label) for label in valid["label"]])
y_test = np.array([LABELS.index(label) for label in tests["ind"]["label"]])  # parallel: the same in every language
for code, test in tests.items():
    assert [LABELS.index(label) for label in test["label"]] == y_test.tolist(), code
print(f"train {len(train)} and valid {len(valid)} Indonesian sentences; {len(y_test)} test sentences in each of "
      f"{len(tests)} languages")
print("sentence 1 of the test set in three languages:")
for code in ("ind", "jav", "bbc"):
    print(f"  {code}: {tests[code]['text'].iloc[1]}")
# --8<-- [end:setup]

# --8<-- [start:tfidf]
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # inverse regularization strength, chosen on Indonesian valid


def fit_on_valid(x_train, x_valid) -> tuple[LogisticRegression, float, float]:
    """A class-balanced logistic regression for each C; keep the best on valid macro-F1 (a tie keeps the smaller C)."""
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x_train, y_train)
        f1 = f1_score(y_valid, model.predict(x_valid), average="macro")
        if best is None or f1 > best[1]:
            best = (model, f1, c)
    return best


# The site's classical baseline (benchmarks/zoo.py): word 1-2 grams and character 2-5 grams inside words.
features = make_union(
    TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
)
x_train = features.fit_transform(train["text"])  # the vocabulary comes from Indonesian train only
tfidf, tfidf_valid_f1, tfidf_c = fit_on_valid(x_train, features.transform(valid["text"]))
tfidf_pred = {code: tfidf.predict(features.transform(test["text"])) for code, test in tests.items()}
tfidf_f1 = {code: f1_score(y_test, pred, average="macro") for code, pred in tfidf_pred.items()}
print(f"TF-IDF: C={tfidf_c} chosen on valid (valid macro-F1 {tfidf_valid_f1:.3f})")
print("test macro-F1: " + "  ".join(f"{code} {f1:.3f}" for code, f1 in tfidf_f1.items()))
# --8<-- [end:tfidf]

# --8<-- [start:pooling]
tokenizer, model = encoder.load()  # multilingual-e5-small, converted offline (dlnlp/pretrained.py)
few = [tests[code]["text"].iloc[1] for code in ("ind", "jav", "bbc")]
batch = tokenizer(["query: " + text for text in few], padding=True, truncation=True, max_length=128,
                  return_tensors="pt")
print(tokenizer.convert_ids_to_tokens(batch["input_ids"][1])[:16])  # Javanese, in pieces of the shared vocabulary
with torch.inference_mode():
    hidden = model(**batch).last_hidden_state  # (3 sentences, longest length, 384)
mask = batch["attention_mask"].unsqueeze(-1).float()  # 1 for real pieces, 0 for padding
mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1)  # the average over each sentence's own pieces
by_hand = torch.nn.functional.normalize(mean, dim=-1).numpy()  # length 1: a dot product is a cosine
print(f"cosine ind-jav {by_hand[0] @ by_hand[1]:.3f}, ind-bbc {by_hand[0] @ by_hand[2]:.3f}")
assert np.allclose(by_hand, encoder.embed(few), atol=1e-4)  # embed() does exactly this, in sorted batches
# --8<-- [end:pooling]

# --8<-- [start:e5]
e_train, e_valid = encoder.embed(train["text"].tolist()), encoder.embed(valid["text"].tolist())
e_tests = {code: encoder.embed(test["text"].tolist(), progress=True) for code, test in tests.items()}
e5, e5_valid_f1, e5_c = fit_on_valid(e_train, e_valid)
e5_pred = {code: e5.predict(vectors) for code, vectors in e_tests.items()}
e5_f1 = {code: f1_score(y_test, pred, average="macro") for code, pred in e5_pred.items()}
print(f"E5 + logistic regression: C={e5_c} chosen on valid (valid macro-F1 {e5_valid_f1:.3f})")
print("test macro-F1: " + "  ".join(f"{code} {f1:.3f}" for code, f1 in e5_f1.items()))
# --8<-- [end:e5]

# --8<-- [start:seeds]
# The solver (lbfgs) has no randomness: refit both models with each seed and compare every test score.
tfidf_x_tests = {code: features.transform(test["text"]) for code, test in tests.items()}
spreads = []
for c, x_fit, x_tests in ((tfidf_c, x_train, tfidf_x_tests), (e5_c, e_train, e_tests)):
    scores = np.array([[f1_score(y_test, fitted.predict(x), average="macro") for x in x_tests.values()]
                       for fitted in (LogisticRegression(C=c, class_weight="balanced", max_iter=2000,
                                                         random_state=seed).fit(x_fit, y_train) for seed in SEEDS)])
    spreads.append(scores.max(axis=0) - scores.min(axis=0))  # per language: highest minus lowest over the seeds
seed_spread = float(np.max(spreads))
print(f"seeds {SEEDS}: largest spread of a test macro-F1 over the seeds {seed_spread:.3f}")
assert seed_spread < 1e-6  # the same model whatever the seed
# --8<-- [end:seeds]

# --8<-- [start:table]
local = [code for code in LANGUAGES if code not in ("ind", "eng")]
print(f"{'language':<16}{'TF-IDF':>8}{'E5':>8}{'TF-IDF drop':>13}{'E5 drop':>9}")
for code in LANGUAGES:
    print(f"{code} {NAMES[code]:<12}{tfidf_f1[code]:>8.3f}{e5_f1[code]:>8.3f}"
          f"{tfidf_f1['ind'] - tfidf_f1[code]:>13.3f}{e5_f1['ind'] - e5_f1[code]:>9.3f}")
tfidf_local_mean = float(np.mean([tfidf_f1[code] for code in local]))
e5_local_mean = float(np.mean([e5_f1[code] for code in local]))
tfidf_drop, e5_drop = tfidf_f1["ind"] - tfidf_local_mean, e5_f1["ind"] - e5_local_mean
e5_wins = sum(e5_f1[code] > tfidf_f1[code] for code in local)
tfidf_ind, e5_ind, tfidf_eng, e5_eng = tfidf_f1["ind"], e5_f1["ind"], tfidf_f1["eng"], e5_f1["eng"]
print(f"mean over the ten local languages: TF-IDF {tfidf_local_mean:.3f} (drop {tfidf_drop:.3f}), "
      f"E5 {e5_local_mean:.3f} (drop {e5_drop:.3f}); E5 ahead on {e5_wins} of 10")
assert e5_drop < tfidf_drop  # the shared encoder loses less when the language changes
assert e5_f1["eng"] > tfidf_f1["eng"] + 0.2  # English shares almost no words with Indonesian
assert abs(e5_eng - e5_ind) < 0.05  # E5 reads English about as well as Indonesian
for scores in (tfidf_f1, e5_f1):  # both models do worst on Buginese and Toba Batak ...
    assert set(sorted(local, key=scores.get)[:2]) == {"bug", "bbc"}
    assert scores["bbc"] < 0.4  # ... close to guessing on Toba Batak
assert set(sorted(local, key=tfidf_f1.get)[-2:]) == {"bjn", "min"}  # TF-IDF keeps most on Banjarese, Minangkabau

fig, ax = plt.subplots(figsize=(9, 3.6))
x = np.arange(len(LANGUAGES))
ax.bar(x - 0.2, [tfidf_f1[c] for c in LANGUAGES], width=0.4, label="TF-IDF + logistic regression")
ax.bar(x + 0.2, [e5_f1[c] for c in LANGUAGES], width=0.4, label="E5 embeddings + logistic regression")
ax.axhline(1 / 3, color="gray", linestyle=":", linewidth=1)  # about what a constant or random guess gets
ax.set(xticks=x, xticklabels=list(LANGUAGES), ylabel="test macro-F1", ylim=(0, 1),
       title=f"Trained on Indonesian only, tested on {len(y_test)} sentences per language")
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
fig.savefig("cross_lingual_f1.svg")
plt.close(fig)
# --8<-- [end:table]

# --8<-- [start:overlap]
train_words = {word for text in train["text"] for word in tokenize(text) if word.isalpha()}  # no punctuation
train_pieces = {piece for text in train["text"] for piece in tokenizer.tokenize(text) if piece.strip("▁").isalpha()}
word_seen, piece_seen, piece_unk = {}, {}, {}
for code, test in tests.items():
    words = {word for text in test["text"] for word in tokenize(text) if word.isalpha()}
    pieces = {piece for text in test["text"] for piece in tokenizer.tokenize(text) if piece.strip("▁").isalpha()}
    word_seen[code] = len(words & train_words) / len(words)  # word types that Indonesian train has
    piece_seen[code] = len(pieces & train_pieces) / len(pieces)  # piece types that Indonesian train has
    ids = [i for text in test["text"] for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    piece_unk[code] = ids.count(tokenizer.unk_token_id) / len(ids)  # share of the pieces that are <unk>
print(f"{'language':<10}{'words seen':>11}{'pieces seen':>12}{'unknown pieces':>15}")
for code in LANGUAGES:
    print(f"{code:<10}{word_seen[code]:>11.3f}{piece_seen[code]:>12.3f}{piece_unk[code]:>15.3f}")
word_seen_local = float(np.mean([word_seen[c] for c in local]))
piece_seen_local = float(np.mean([piece_seen[c] for c in local]))
max_unk = max(piece_unk.values())
word_seen_ind, word_seen_eng, piece_seen_eng = word_seen["ind"], word_seen["eng"], piece_seen["eng"]
rho_tfidf = spearmanr([word_seen[c] for c in local], [tfidf_f1[c] for c in local]).statistic
rho_e5 = spearmanr([word_seen[c] for c in local], [e5_f1[c] for c in local]).statistic
print(f"local languages: {word_seen_local:.3f} of word types and {piece_seen_local:.3f} of piece types seen; "
      f"Spearman(words seen, F1): TF-IDF {rho_tfidf:.2f}, E5 {rho_e5:.2f}")
assert all(piece_seen[c] > word_seen[c] for c in LANGUAGES)  # pieces are shared more than whole words
assert max_unk == 0  # the 250k-piece vocabulary spells every test word; nothing becomes <unk>
assert min(local, key=word_seen.get) == "bug"  # Buginese shares the fewest words with Indonesian
assert rho_tfidf > 0.5  # the fewer words a language shares with Indonesian, the lower TF-IDF's score
# --8<-- [end:overlap]

# --8<-- [start:bootstrap]
RESAMPLES = 1000
rng = np.random.default_rng(0)
draws = rng.integers(0, len(y_test), size=(RESAMPLES, len(y_test)))  # the same resampled examples for every pair


def macro_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 along the last axis (one score per row): F1 = 2 TP / (2 TP + FP + FN), averaged over the classes."""
    scores = []
    for k in range(len(LABELS)):
        tp = ((pred == k) & (y == k)).sum(-1)
        wrong = ((pred == k) != (y == k)).sum(-1)  # false positives + false negatives
        scores.append(np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0))
    return np.mean(scores, axis=0)


assert np.isclose(macro_f1(y_test, e5_pred["jav"]), e5_f1["jav"])  # the same as scikit-learn's
difference = {}
for code in LANGUAGES:
    deltas = macro_f1(y_test[draws], e5_pred[code][draws]) - macro_f1(y_test[draws], tfidf_pred[code][draws])
    low, high = np.percentile(deltas, [2.5, 97.5])
    difference[code] = (e5_f1[code] - tfidf_f1[code], float(low), float(high))
    verdict = "E5 better" if low > 0 else "TF-IDF better" if high < 0 else "within the noise"
    print(f"{code}: E5 - TF-IDF {difference[code][0]:+.3f}, 95% interval [{low:+.3f}, {high:+.3f}]  {verdict}")
clear_wins = sum(difference[c][1] > 0 for c in LANGUAGES)
clear_losses = sum(difference[c][2] < 0 for c in LANGUAGES)
print(f"E5 clearly ahead on {clear_wins} of {len(LANGUAGES)} languages, clearly behind on {clear_losses}")
assert difference["eng"][1] > 0  # on English the gap is far beyond the noise, even with 100 test sentences
# --8<-- [end:bootstrap]

# --8<-- [start:save]
if FULL:  # the benchmark (benchmarks/crosslingual.py) collects this file
    rows = [{"language": code, "name": NAMES[code], "dataset": name, "n_test": len(y_test), "tfidf_f1": tfidf_f1[code],
             "e5_f1": e5_f1[code], "difference": difference[code], "word_seen": word_seen[code],
             "piece_seen": piece_seen[code], "piece_unk": piece_unk[code]} for code, name in LANGUAGES.items()]
    settings = {"tfidf_c": tfidf_c, "tfidf_valid_f1": tfidf_valid_f1, "e5_c": e5_c, "e5_valid_f1": e5_valid_f1,
                "seeds": list(SEEDS), "seed_spread": seed_spread, "resamples": RESAMPLES}
    with open("crosslingual.json", "w", encoding="utf-8") as f:
        json.dump({"settings": settings, "rows": rows}, f, indent=1)
print("settings:", {"TF-IDF C": tfidf_c, "E5 C": e5_c, "full size": FULL})
# --8<-- [end:save]
