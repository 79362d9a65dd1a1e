# tutorial-test: timeout=120 after=word_embeddings
# Solutions to the exercises of docs/intermediate/word-embeddings.md. They start in the folder that
# snippets/word_embeddings.py left behind: its skip-gram tables are in word_vectors.npy and context_vectors.npy.

# --8<-- [start:exercise-1]
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from dlnlp.data import load
from dlnlp.text import tokenize

itos = open("word_vectors.txt", encoding="utf-8").read().split("\n")
stoi = {word: i for i, word in enumerate(itos)}
centre, context = np.load("word_vectors.npy"), np.load("context_vectors.npy")


def unit(table: np.ndarray) -> np.ndarray:
    return table / np.linalg.norm(table, axis=1, keepdims=True).clip(1e-8)


def neighbours(table: np.ndarray, word: str, k: int = 6) -> list[str]:
    similarity = table @ table[stoi[word]]
    similarity[stoi[word]] = -np.inf
    return [itos[i] for i in np.argsort(-similarity)[:k]]


WORDS = ["bagus", "buruk", "enak", "makanan", "pelayanan", "tidak", "bandung", "marah", "sedih", "cinta"]
both = unit(centre + context)
shared = []
for word in WORDS:
    alone, summed = neighbours(unit(centre), word), neighbours(both, word)
    shared.append(len(set(alone) & set(summed)))
    print(f"{word:>10}: {', '.join(summed)}  ({shared[-1]} of 6 also with the centre table alone)")
mean_shared = float(np.mean(shared))
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
def text_vector(text: str, table: np.ndarray) -> np.ndarray:
    rows = [stoi[w] for w in tokenize(text) if w in stoi]
    return table[rows].mean(0) if rows else np.zeros(table.shape[1])


splits = {s: load("emot", s) for s in ("train", "valid")}
x = {s: np.stack([text_vector(t, unit(centre)) for t in splits[s]["text"]]) for s in splits}
search = {C: f1_score(splits["valid"]["label"], LogisticRegression(C=C, max_iter=3000).fit(
    x["train"], splits["train"]["label"]).predict(x["valid"]), average="macro") for C in (1.0, 10.0, 100.0)}
frozen_valid = max(search.values())
print("valid macro-F1 by C:", {C: round(f, 3) for C, f in search.items()})
print(f"frozen skip-gram vectors + logistic regression: best valid macro-F1 {frozen_valid:.3f}")
assert frozen_valid > 0.3  # well above guessing one of five emotions
# --8<-- [end:exercise-2]
