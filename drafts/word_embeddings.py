# tutorial-test: timeout=240
# --8<-- [start:setup]
import matplotlib

matplotlib.use("Agg")  # draw into files, no window
import matplotlib.pyplot as plt
import numpy as np
import torch
from collections import Counter
from sklearn.decomposition import PCA
from torch import nn

from dlnlp.data import load
from dlnlp.text import tokenize

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread: fast for a model this small, and steady on a busy machine
rng = np.random.default_rng(0)

sentences = [tokenize(text) for dataset in ("smsa", "emot") for text in load(dataset, "train")["text"]]
counts = Counter(word for sentence in sentences for word in sentence)
MIN_COUNT = 5  # rarer words get no vector: five examples are too few to learn one
itos = sorted(word for word, c in counts.items() if c >= MIN_COUNT)
stoi = {word: i for i, word in enumerate(itos)}
freq = np.array([counts[word] for word in itos], dtype=np.float64)
print(f"{len(sentences):,} training sentences, {int(freq.sum()):,} tokens of {len(itos):,} words seen {MIN_COUNT}+ times")
# --8<-- [end:setup]

# --8<-- [start:pairs]
WINDOW, NEGATIVES, SUBSAMPLE = 4, 5, 1e-4
share = freq / freq.sum()
keep_probability = np.minimum(1.0, np.sqrt(SUBSAMPLE / share) + SUBSAMPLE / share)  # Mikolov et al. (2013)
noise = torch.tensor(share**0.75 / (share**0.75).sum())  # negatives: unigram distribution to the power 3/4


def skipgram_pairs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre, context) id pairs of one epoch: frequent words thinned out, a random window of 1..WINDOW words."""
    rng = np.random.default_rng(seed)
    centres, contexts = [], []
    for sentence in sentences:
        ids = np.array([stoi[w] for w in sentence if w in stoi], dtype=np.int64)
        ids = ids[rng.random(len(ids)) < keep_probability[ids]]
        for offset in range(1, WINDOW + 1):
            reach = rng.integers(1, WINDOW + 1, size=len(ids)) >= offset  # nearer words are used more often
            left, right = ids[:-offset], ids[offset:]
            centres += [left[reach[:-offset]], right[reach[offset:]]]
            contexts += [right[reach[:-offset]], left[reach[offset:]]]
    return torch.from_numpy(np.concatenate(centres)), torch.from_numpy(np.concatenate(contexts))


centre, context = skipgram_pairs(seed=0)
print(f"kept {keep_probability @ freq / freq.sum():.0%} of the tokens; {len(centre):,} (centre, context) pairs")
for word in ("yang", "enak", "pelayanan"):
    print(f"keep probability of '{word}': {keep_probability[stoi[word]]:.2f}")
# --8<-- [end:pairs]

# --8<-- [start:model]
class SkipGram(nn.Module):
    """Two tables: one vector per word as a centre word (the one we keep), one as a context word."""

    def __init__(self, vocab_size: int, dim: int = 64):
        super().__init__()
        self.centre = nn.Embedding(vocab_size, dim, sparse=True)
        self.context = nn.Embedding(vocab_size, dim, sparse=True)
        nn.init.uniform_(self.centre.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.context.weight)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        c = self.centre(centre)  # (batch, dim)
        positive = (c * self.context(context)).sum(-1)  # (batch,)
        negative = torch.bmm(self.context(negatives), c.unsqueeze(-1)).squeeze(-1)  # (batch, NEGATIVES)
        # push real pairs towards sigma(score) = 1 and noise pairs towards 0
        return -(nn.functional.logsigmoid(positive) + nn.functional.logsigmoid(-negative).sum(-1)).mean()


sgns = SkipGram(len(itos))
optimizer = torch.optim.SparseAdam(sgns.parameters(), lr=5e-3)
EPOCHS, BATCH = 2, 1024
losses = []
for epoch in range(EPOCHS):
    centre, context = skipgram_pairs(seed=epoch)
    order = torch.randperm(len(centre))
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        negatives = torch.multinomial(noise, len(batch) * NEGATIVES, replacement=True).view(len(batch), NEGATIVES)
        loss = sgns(centre[batch], context[batch], negatives)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"epoch {epoch + 1}: mean loss {np.mean(losses[-200:]):.3f} (last 200 batches)")
first_loss, last_loss = np.mean(losses[:50]), np.mean(losses[-200:])
print(f"loss: first 50 batches {first_loss:.3f}, last 200 batches {last_loss:.3f}")
assert last_loss < 0.7 * first_loss  # the loss goes down
# --8<-- [end:model]

# --8<-- [start:neighbours]
vectors = sgns.centre.weight.detach()
unit = nn.functional.normalize(vectors, dim=1)


def neighbours(word: str, unit: torch.Tensor, k: int = 6) -> list[str]:
    similarity = unit @ unit[stoi[word]]
    similarity[stoi[word]] = -1  # not the word itself
    return [itos[i] for i in similarity.topk(k).indices]


WORDS = ["bagus", "buruk", "enak", "makanan", "pelayanan", "tidak", "bandung", "marah", "sedih", "cinta"]
for word in WORDS:
    print(f"{word:>10}: {', '.join(neighbours(word, unit))}")
# --8<-- [end:neighbours]

# --8<-- [start:picture]
PICTURE = ["bagus", "enak", "mantap", "buruk", "kecewa", "makanan", "ayam", "harga", "pelayanan", "ramah",
           "bandung", "jakarta", "senang", "sedih", "marah", "takut", "cinta"]
points = PCA(n_components=2, random_state=0).fit_transform(unit[[stoi[w] for w in PICTURE]].numpy())
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.scatter(points[:, 0], points[:, 1], s=12)
for word, (x, y) in zip(PICTURE, points):
    ax.annotate(word, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=9)
ax.set(title="Skip-gram vectors, first two principal components", xlabel="PC 1", ylabel="PC 2")
fig.tight_layout()
fig.savefig("word_embeddings_pca.svg")
plt.close(fig)
print(f"{len(PICTURE)} words drawn")
# --8<-- [end:picture]
