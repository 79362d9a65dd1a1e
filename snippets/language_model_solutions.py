# tutorial-test: timeout=120
# Solutions to the exercises of docs/intermediate/language-models.md (no neural network is trained: counting only).

# --8<-- [start:exercise-1]
import math
from collections import Counter

import numpy as np
import torch

from dlnlp.data import load
from dlnlp.text import Vocab

train_texts, valid_texts = load("smsa", "train")["text"].tolist(), load("smsa", "valid")["text"].tolist()


def unigram_perplexity(min_freq: int) -> tuple[float, float, int]:
    """Valid perplexity of a unigram model whose vocabulary keeps words seen min_freq times in train."""
    vocab = Vocab(train_texts, min_freq=min_freq)
    eos = len(vocab)
    train = [vocab.encode(t) + [eos] for t in train_texts]  # the tokens to predict (the page's encode, minus </s>)
    valid = [vocab.encode(t) + [eos] for t in valid_texts]
    counts = Counter(w for s in train for w in s)
    total = sum(counts.values())
    nll = [-math.log(counts[w] / total) for s in valid for w in s]
    unk = sum(s.count(1) for s in valid) / sum(len(s) for s in valid)
    return math.exp(sum(nll) / len(nll)), unk, len(vocab) + 1


print("min_freq  vocabulary  <unk> in valid  unigram valid perplexity")
results = {m: unigram_perplexity(m) for m in (2, 5, 20, 100)}
for m, (ppl, unk, size) in results.items():
    print(f"{m:8d}  {size:10,d}  {unk:14.1%}  {ppl:24.1f}")
ppls = [ppl for ppl, _, _ in results.values()]
assert all(a > b for a, b in zip(ppls, ppls[1:]))  # a smaller vocabulary always "improves" the perplexity
ppl_min2, ppl_min100 = ppls[0], ppls[-1]
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
vocab = Vocab(train_texts, min_freq=5)  # the page's vocabulary and sentences
EOS = len(vocab)
train = [[EOS] + vocab.encode(t) + [EOS] for t in train_texts]
valid = [[EOS] + vocab.encode(t) + [EOS] for t in valid_texts]
unigram = Counter(w for s in train for w in s[1:])
bigram = Counter(pair for s in train for pair in zip(s[:-1], s[1:]))
context = Counter(v for s in train for v in s[:-1])
n_tokens = sum(unigram.values())


def jelinek_mercer(v: int, w: int, lam: float) -> float:
    """Interpolation: lam * (bigram relative frequency) + (1 - lam) * (unigram relative frequency)."""
    return lam * bigram[(v, w)] / context[v] + (1 - lam) * unigram[w] / n_tokens


def perplexity(prob) -> float:
    nll = [-math.log(prob(v, w)) for s in valid for v, w in zip(s[:-1], s[1:])]
    return math.exp(sum(nll) / len(nll))


by_lambda = {lam: perplexity(lambda v, w: jelinek_mercer(v, w, lam)) for lam in (0.3, 0.5, 0.7, 0.9)}
for lam, ppl in by_lambda.items():
    print(f"lambda = {lam}: valid perplexity {ppl:.1f}")
best_lambda = min(by_lambda, key=by_lambda.get)  # chosen on VALID
ppl_jm = by_lambda[best_lambda]
print(f"best: lambda = {best_lambda}, perplexity {ppl_jm:.1f}")
assert by_lambda[0.9] > ppl_jm  # trusting the bigram counts too much costs on unseen pairs
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
def kept_by_top_k(probs: torch.Tensor, k: int) -> int:
    return min(k, int((probs > 0).sum()))


def kept_by_top_p(probs: torch.Tensor, p: float) -> int:
    """The size of the nucleus: the fewest most-likely tokens whose probabilities reach p."""
    sorted_probs = probs.sort(descending=True).values
    return int(((sorted_probs.cumsum(0) - sorted_probs) < p).sum())


torch.manual_seed(0)
logits = torch.randn(1000)
peaked = (logits * 6).softmax(0)  # one context where the model is sure ("terima" -> "kasih")
flat = (logits * 0.5).softmax(0)  # one where many words fit (the first word of a review)
for name, probs in (("peaked", peaked), ("flat", flat)):
    print(f"{name:>6}: largest probability {probs.max():.3f}; top-k 10 keeps {kept_by_top_k(probs, 10)},"
          f" top-p 0.9 keeps {kept_by_top_p(probs, 0.9)} tokens")
nucleus_peaked, nucleus_flat = kept_by_top_p(peaked, 0.9), kept_by_top_p(flat, 0.9)
assert nucleus_peaked < 10 < nucleus_flat  # top-p adapts to the distribution, top-k does not
# --8<-- [end:exercise-3]
