# tutorial-test: timeout=400
# Solutions to the exercises of docs/advanced/cross-lingual.md. Every setting is chosen on a validation split;
# each test set is scored once. Like the page, they score the first 100 test sentences of each language.

# --8<-- [start:exercise-1]
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # never contact the Hugging Face Hub
import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_union

from dlnlp import encoder
from dlnlp.data import NUSAX_LOCAL, labels, load

torch.manual_seed(0)
torch.set_num_threads(2)

LABELS = labels("nusax_id")
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # the page's grid
N_TEST = 100  # the page's quick run
LANGUAGES = {"ind": "nusax_id", "eng": "nusax_en", **{code: f"nusax_{code}" for code in NUSAX_LOCAL}}


def gold(df) -> np.ndarray:
    return np.array([LABELS.index(label) for label in df["label"]])


def fit_on_valid(x_train, y_train, x_valid, y_valid) -> tuple[LogisticRegression, float]:
    """The page's rule: the C with the best valid macro-F1 (a tie keeps the smaller C)."""
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x_train, y_train)
        f1 = f1_score(y_valid, model.predict(x_valid), average="macro")
        if best is None or f1 > best[1]:
            best = (model, f1, c)
    return best[0], best[2]


def tfidf_features(char_ngrams: bool = True):
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    if not char_ngrams:
        return word
    return make_union(word, TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))


sun_test = load("nusax_sun", "test").iloc[:N_TEST]
y_sun = gold(sun_test)
scores = {}
for source in ("nusax_id", "nusax_jav"):
    train, valid = load(source, "train"), load(source, "valid")
    features = tfidf_features()
    x_train = features.fit_transform(train["text"])
    tfidf, _ = fit_on_valid(x_train, gold(train), features.transform(valid["text"]), gold(valid))
    e5, _ = fit_on_valid(encoder.embed(train["text"].tolist()), gold(train),
                         encoder.embed(valid["text"].tolist()), gold(valid))
    scores[source] = (f1_score(y_sun, tfidf.predict(features.transform(sun_test["text"])), average="macro"),
                      f1_score(y_sun, e5.predict(encoder.embed(sun_test["text"].tolist())), average="macro"))
    print(f"trained on {source:<10} Sundanese test macro-F1: TF-IDF {scores[source][0]:.3f}, E5 {scores[source][1]:.3f}")
jav_gain_tfidf = scores["nusax_jav"][0] - scores["nusax_id"][0]
jav_gain_e5 = scores["nusax_jav"][1] - scores["nusax_id"][1]
print(f"Javanese instead of Indonesian as the source: TF-IDF {jav_gain_tfidf:+.3f}, E5 {jav_gain_e5:+.3f}")
assert abs(jav_gain_tfidf) < 0.1 and abs(jav_gain_e5) < 0.1  # smaller than the page's bootstrap intervals are wide
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
ind_train, jav_train, ind_valid = load("nusax_id", "train"), load("nusax_jav", "train"), load("nusax_id", "valid")
tests = {code: load(name, "test").iloc[:N_TEST] for code, name in LANGUAGES.items()}
y_test = gold(tests["ind"])  # parallel: the same labels in every language
e_tests = {code: encoder.embed(test["text"].tolist()) for code, test in tests.items()}
e_ind, e_jav = encoder.embed(ind_train["text"].tolist()), encoder.embed(jav_train["text"].tolist())
e_valid, y_valid = encoder.embed(ind_valid["text"].tolist()), gold(ind_valid)

only_ind, _ = fit_on_valid(e_ind, gold(ind_train), e_valid, y_valid)
both, _ = fit_on_valid(np.vstack([e_ind, e_jav]), np.concatenate([gold(ind_train), gold(jav_train)]),
                       e_valid, y_valid)
gains = {}
for code, vectors in e_tests.items():
    before = f1_score(y_test, only_ind.predict(vectors), average="macro")
    after = f1_score(y_test, both.predict(vectors), average="macro")
    gains[code] = after - before
    note = "  (in training now: not zero-shot)" if code == "jav" else ""
    print(f"{code}: Indonesian only {before:.3f}, Indonesian + Javanese {after:.3f} ({gains[code]:+.3f}){note}")
jav_gain = gains["jav"]
mean_gain_others = float(np.mean([g for code, g in gains.items() if code not in ("jav", "ind")]))
print(f"Javanese {jav_gain:+.3f}; mean over the ten other test languages {mean_gain_others:+.3f}")
biggest_gains = sorted(gains, key=gains.get)[-2:]
assert set(biggest_gains) == {"bug", "bbc"}  # the two languages furthest from Indonesian gain the most
bbc_gain, bug_gain = gains["bbc"], gains["bug"]
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
local = list(NUSAX_LOCAL)
y_ind_train = gold(ind_train)
mean_local = {}
for char_ngrams in (True, False):
    features = tfidf_features(char_ngrams)
    x_train = features.fit_transform(ind_train["text"])
    model, c = fit_on_valid(x_train, y_ind_train, features.transform(ind_valid["text"]), y_valid)
    f1 = {code: f1_score(y_test, model.predict(features.transform(tests[code]["text"])), average="macro")
          for code in LANGUAGES}
    mean_local[char_ngrams] = float(np.mean([f1[code] for code in local]))
    kind = "words + character n-grams" if char_ngrams else "words only"
    print(f"{kind:<26} C={c:<5} Indonesian {f1['ind']:.3f}, mean of the 10 local languages {mean_local[char_ngrams]:.3f}")
char_gain = mean_local[True] - mean_local[False]
print(f"character n-grams add {char_gain:+.3f} to the mean local-language macro-F1")
assert char_gain > 0  # part of what TF-IDF transfers comes from pieces of words
# --8<-- [end:exercise-3]
