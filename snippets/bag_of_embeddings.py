# tutorial-test: timeout=180
# --8<-- [start:setup]
import zlib
from collections.abc import Callable

import torch
from torch import nn

from dlnlp.text import Vocab, tokenize
from dlnlp.zoo import FULL, Settings, majority_f1, run, save_results

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread, as in every zoo model: steadier, comparable training times
# --8<-- [end:setup]

# --8<-- [start:ngrams]
NGRAM_SIZES = (3, 4, 5)  # character n-grams of 3, 4 and 5 characters


def char_ngrams(word: str) -> list[str]:
    """'<kucingku>' cut into every piece of 3, 4 and 5 characters; < and > mark the start and end of the word."""
    marked = f"<{word}>"
    return [marked[i : i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)]


def word_bigrams(tokens: list[str]) -> list[str]:
    """Pairs of neighbouring words: the only trace of word order the model gets."""
    return [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


print(char_ngrams("kucingku"))
print(word_bigrams(tokenize("Tidak suka sama sekali")))
# --8<-- [end:ngrams]

# --8<-- [start:hashing]
BUCKETS = 2**18  # 262,144 shared rows for all n-grams and bigrams


def bucket(piece: str) -> int:
    """A stable hash: zlib.crc32 gives the same number in every run (Python's hash() of a str does not)."""
    return zlib.crc32(piece.encode("utf-8")) % BUCKETS


print(bucket("<ku"), bucket("ku>"), bucket("tidak suka"))
assert bucket("ku>") == 159179  # the same in every process, on every machine
# --8<-- [end:hashing]

# --8<-- [start:encoder]
def make_encoder(train_texts: list[str]) -> tuple[Callable[[str], list[int]], int]:
    """Text -> word ids, then hashed n-gram and bigram ids, all in ONE id space of size len(vocab) + BUCKETS.

    ids 0 .. len(vocab)-1: words of the training texts (0 = padding, 1 = unknown word)
    ids len(vocab) .. len(vocab)+BUCKETS-1: hashed character n-grams and word bigrams
    """
    vocab = Vocab(train_texts, min_freq=2)
    first = len(vocab)  # hashed pieces start after the word ids, so they never collide with a word

    def encode(text: str) -> list[int]:
        tokens = tokenize(text)
        words = [vocab.stoi.get(token, 1) for token in tokens] or [1]
        pieces = [g for token in tokens for g in char_ngrams(token)] + word_bigrams(tokens)
        return words + [first + bucket(piece) for piece in pieces]

    return encode, first + BUCKETS


toy_texts = ["aku suka kucing", "aku tidak suka kucing", "kucingku sakit"]
encode, vocab_size = make_encoder(toy_texts)
ids = encode("aku suka kucingku")
print(f"vocabulary + buckets = {vocab_size:,} ids")
print(f"'aku suka kucingku' -> {len(ids)} ids: {ids[:3]} (words) + {len(ids) - 3} hashed pieces")
assert ids[2] == 1  # 'kucingku' is in only one training text: an unknown word (id 1) ...
assert len(encode("kucingku")) == 1 + len(char_ngrams("kucingku"))  # ... but the model still sees its n-grams
# --8<-- [end:encoder]

# --8<-- [start:model]
class BagOfEmbeddings(nn.Module):
    """fastText-style classifier: the mean of the embeddings of all ids of a text -> dropout -> linear layer."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 48, dropout: float = 0.5):
        super().__init__()
        # padding_idx=0: padding positions are left out of the mean (and their row is never trained).
        # sparse=True: a batch gives a gradient only to the rows it used; fit() then updates just those rows.
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0, sparse=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # ids: (batch, max_len), padded with 0. lengths are not needed: padding_idx already skips the padding.
        return self.out(self.dropout(self.embed(ids)))  # (batch, dim) -> (batch, n_classes)


model = BagOfEmbeddings(vocab_size, n_classes=3).eval()
batch = [encode(text) for text in ["aku suka kucing", "kucingku sakit sekali hari ini"]]
lengths = torch.tensor([len(b) for b in batch])
padded = nn.utils.rnn.pad_sequence([torch.tensor(b) for b in batch], batch_first=True, padding_value=0)
logits = model(padded, lengths)
print("ids:", tuple(padded.shape), "-> logits:", tuple(logits.shape))
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
assert logits.shape == (2, 3)

# The inductive bias, checked: a bag has no order, so shuffling the ids of a text changes nothing
# (word order reaches the model only through the bigram ids) ...
one = padded[:1, : lengths[0]]
shuffled = one[:, torch.randperm(one.shape[1])]
assert torch.allclose(model(one, lengths[:1]), model(shuffled, lengths[:1]), atol=1e-6)
# ... and neither does extra padding.
assert torch.allclose(model(padded[:1], lengths[:1]), model(one, lengths[:1]), atol=1e-6)
# --8<-- [end:model]

# --8<-- [start:settings]
if FULL:  # the benchmark (DLNLP_FULL=1): the whole published train split
    settings = Settings(epochs=15, lr=2e-2, batch_size=64, weight_decay=0.0, patience=4, max_len=2048)
else:  # the quick run that CI and this page use: a subset of the training data and few epochs
    settings = Settings(epochs=5, lr=2e-2, batch_size=64, weight_decay=0.0, patience=4, max_len=2048,
                        train_limit=1500)
print(settings)
# --8<-- [end:settings]

# --8<-- [start:run]
# The benchmark trains every dataset once with each seed in SEEDS, fixed before any run (the seed sets the first
# weights and the batch order): on datasets this small, seeds alone move test scores by a few points. The quick
# run uses the first seed only.
from dlnlp.zoo import SEEDS

seeds = SEEDS if FULL else SEEDS[:1]
results = []
for dataset in ["emot", "smsa", "nusax_id"]:  # each model is trained and scored on ONE dataset
    for seed in seeds:
        result = run("bag_of_embeddings", dataset, BagOfEmbeddings, settings, make_encoder=make_encoder, seed=seed)
        results.append(result)
        print(result)
    print(f"{'':9} majority-class test macro-F1 {majority_f1(dataset):.3f}")
    if not FULL:
        assert result.test_f1 > majority_f1(dataset) + 0.2, "a clear margin over always guessing one class"

if FULL:
    save_results(results, "zoo_bag_of_embeddings.json")  # the benchmark (benchmarks/zoo.py) reads this file
# --8<-- [end:run]
