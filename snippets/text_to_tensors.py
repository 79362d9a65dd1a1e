# tutorial-test: timeout=120
# --8<-- [start:setup]
import re
import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

from dlnlp.data import labels, load

torch.manual_seed(0)  # the same random numbers on every run, as on this page
# --8<-- [end:setup]

# --8<-- [start:sizes]
DATASETS = ["emot", "smsa", "nusax_en", "nusax_id"]
SPLITS = ["train", "valid", "test"]
data = {(name, split): load(name, split) for name in DATASETS for split in SPLITS}

sizes = pd.DataFrame(
    {split: [len(data[name, split]) for name in DATASETS] for split in SPLITS},
    index=DATASETS,
)
print(sizes.to_string())
smsa_vs_nusax = sizes.loc["smsa", "train"] / sizes.loc["nusax_id", "train"]
print(f"SmSA has {smsa_vs_nusax:.0f} times as many training examples as NusaX")
# --8<-- [end:sizes]

# --8<-- [start:labels]
for name in DATASETS:
    train_labels = data[name, "train"]["label"]
    table = pd.DataFrame({
        "count": train_labels.value_counts(),
        "share": train_labels.value_counts(normalize=True),
    })
    # the fixed label order, not "most frequent first"
    table = table.reindex(labels(name))
    imbalance = table["count"].max() / table["count"].min()
    print(f"{name} (train)")
    print(table.round(3).to_string())
    print(f"largest class / smallest class: {imbalance:.1f}", end="\n\n")
    # every example has one of the known labels
    assert table["count"].sum() == len(train_labels)

smsa_counts = data["smsa", "train"]["label"].value_counts()
smsa_imbalance = smsa_counts.max() / smsa_counts.min()
# the accuracy of a "model" that always answers the largest class
always_positive = smsa_counts["positive"] / smsa_counts.sum()
print(f"smsa: always answering 'positive' is right on {always_positive:.1%}"
      " of the training examples")
# --8<-- [end:labels]

# --8<-- [start:smsa-shift]
shares = pd.DataFrame({
    split: data["smsa", split]["label"].value_counts(normalize=True)
    for split in SPLITS
}).reindex(labels("smsa"))
print("SmSA label shares per split")
print(shares.round(3).to_string())
# the test split is clearly less positive than train
assert shares.loc["positive", "train"] > shares.loc["positive", "test"] + 0.1
# --8<-- [end:smsa-shift]

# --8<-- [start:leak]
def normalize(text: str) -> str:
    """Lowercase; drop spaces and punctuation (they must not hide a copy)."""
    return re.sub(r"[\W_]+", "", text.lower())


smsa_train = {normalize(text) for text in data["smsa", "train"]["text"]}
nusax_id_test = data["nusax_id", "test"]["text"]
copies = sum(normalize(text) in smsa_train for text in nusax_id_test)
print(f"{copies} of {len(nusax_id_test)} NusaX Indonesian test sentences"
      " are also in SmSA's train split")
assert copies == 217
# --8<-- [end:leak]

# --8<-- [start:lengths]
def count_tokens(texts: pd.Series) -> pd.Series:
    return texts.str.split().str.len()  # words separated by spaces


rows = []
for name in DATASETS:
    n_tokens = count_tokens(data[name, "train"]["text"])
    rows.append({"dataset": name, "mean": n_tokens.mean(),
                 "median": n_tokens.median(),
                 "p95": n_tokens.quantile(0.95), "max": n_tokens.max(),
                 "max/median": n_tokens.max() / n_tokens.median()})
length_table = pd.DataFrame(rows).set_index("dataset")
print("tokens per text (train, split on spaces)")
print(length_table.round(1).to_string())
# EmoT's tweets have the shortest tail: a tweet has a character limit
assert length_table["max/median"].idxmin() == "emot"

fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), sharex=True)
for ax, name in zip(axes.flat, DATASETS):
    n_tokens = count_tokens(data[name, "train"]["text"])
    ax.hist(n_tokens, bins=range(0, 115, 5), color="tab:blue")
    ax.axvline(n_tokens.median(), color="black", linestyle="--",
               label="median")
    ax.axvline(n_tokens.quantile(0.95), color="tab:red", linestyle=":",
               label="95th percentile")
    ax.set(title=f"{name} (train, {len(n_tokens)} texts)", ylabel="texts")
axes[0, 0].legend()
for ax in axes[1]:
    ax.set(xlabel="tokens per text")
fig.tight_layout()
fig.savefig("text_to_tensors_lengths.svg")
plt.close(fig)
# --8<-- [end:lengths]

# --8<-- [start:whitespace]
train = data["emot", "train"]
tweet = train["text"][462]  # one tweet of EmoT's train split
print(textwrap.fill(tweet, width=78))
print()
print(textwrap.fill(str(tweet.split()), width=78))  # wrap the long line
# --8<-- [end:whitespace]

# --8<-- [start:regex]
TOKEN = re.compile(
    r"""
      \[username\] | \[url\]  # EmoT's placeholders stay one token
    | \w+(?:-\w+)*            # a word or number; keeps kue-kue together
    | \.{2,}                  # an ellipsis: ... or ....
    | [^\w\s]                 # any other punctuation mark, e.g. the #
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


print(textwrap.fill(str(tokenize(tweet)), width=78))
assert tokenize("[USERNAME] lihat #nasib ini... [URL]") == [
    "[username]", "lihat", "#", "nasib", "ini", "...", "[url]"
]
assert tokenize("Kue-kue???") == ["kue-kue", "?", "?", "?"]
# --8<-- [end:regex]

# --8<-- [start:vocab]
PAD, UNK = "<pad>", "<unk>"
# count tokens in the TRAIN split only
counts = Counter(token for text in train["text"] for token in tokenize(text))


def build_vocab(counts: Counter, min_freq: int) -> dict[str, int]:
    """Special tokens, then tokens seen >= min_freq times, most frequent
    first (ties in alphabetical order)."""
    vocab = {PAD: 0, UNK: 1}
    by_count = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    for token, count in by_count:
        if count >= min_freq:
            vocab[token] = len(vocab)
    return vocab


n_different = len(counts)
seen_once = sum(1 for count in counts.values() if count == 1)
print(f"{n_different} different tokens in EmoT's train split,"
      f" {seen_once} of them seen only once")
assert seen_once > n_different / 2  # most tokens are rare
print("min_freq  vocabulary size")
for min_freq in [1, 2, 3, 5, 10]:
    print(f"{min_freq:8d}  {len(build_vocab(counts, min_freq)):15d}")
# --8<-- [end:vocab]

# --8<-- [start:numericalize]
MIN_FREQ = 2
vocab = build_vocab(counts, MIN_FREQ)
itos = list(vocab)  # id -> token: the keys, in the order their ids were given


def encode(text: str) -> list[int]:
    return [vocab.get(token, vocab[UNK]) for token in tokenize(text)]


def decode(ids: list[int]) -> str:
    return " ".join(itos[i] for i in ids)


valid_ids = [i for text in data["emot", "valid"]["text"] for i in encode(text)]
oov_rate = valid_ids.count(vocab[UNK]) / len(valid_ids)
print(f"vocabulary: {len(vocab)} tokens (min_freq={MIN_FREQ})")
print(f"out-of-vocabulary rate on valid: {oov_rate:.3f}")

text = "[USERNAME] aku sedih banget hari ini..."
ids = encode(text)
print(ids)
print(decode(ids))
# every token of this text is in the vocabulary...
assert UNK not in decode(ids).split()
# ...so decoding gives back exactly its tokens
assert decode(ids) == " ".join(tokenize(text))
print(decode(encode("aku suka xyzzyplugh")))  # an unknown word becomes <unk>
# --8<-- [end:numericalize]

# --8<-- [start:pad]
sentences = ["Aku menang jackpot!", "Aku menangis karena kucingku sakit",
             "Sedih"]
batch = [torch.tensor(encode(s)) for s in sentences]
lengths = torch.tensor([len(ids) for ids in batch])
# shape (batch, longest), the empty places filled with the id of <pad>
ids = pad_sequence(batch, batch_first=True, padding_value=vocab[PAD])
# True where there is a real token
mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]

print("lengths:", lengths.tolist())
print("ids:")
print(ids)
print("mask:")
print(mask.int())
assert ids.shape == (3, max(lengths))
assert (ids[~mask] == vocab[PAD]).all() and mask.sum() == lengths.sum()
print(f"padding waste: {1 - mask.sum().item() / mask.numel():.3f}")
# --8<-- [end:pad]

# --8<-- [start:pack]
packed = pack_padded_sequence(ids, lengths, batch_first=True,
                              enforce_sorted=False)
print("packed data:", packed.data.tolist())
print("batch sizes:", packed.batch_sizes.tolist())
# packing stores the real tokens only, no padding
assert packed.data.numel() == lengths.sum()
# --8<-- [end:pack]

# --8<-- [start:waste]
BATCH_SIZE = 32
train_lengths = torch.tensor([len(encode(text)) for text in train["text"]])


def padding_waste(order: torch.Tensor, batch_size: int) -> float:
    """Share of pad tokens when the texts, in this order, are padded batches."""
    real = padded = 0
    for start in range(0, len(order), batch_size):
        batch_lengths = train_lengths[order[start : start + batch_size]]
        real += batch_lengths.sum().item()
        padded += len(batch_lengths) * batch_lengths.max().item()
    return 1 - real / padded


random_order = torch.randperm(len(train_lengths))
sorted_order = train_lengths.argsort(stable=True)
random_waste = padding_waste(random_order, BATCH_SIZE)
sorted_waste = padding_waste(sorted_order, BATCH_SIZE)
print(f"padding waste, random batches:        {random_waste:.3f}")
print(f"padding waste, length-sorted batches: {sorted_waste:.3f}")
# --8<-- [end:waste]

# --8<-- [start:dataset]
class TextDataset(Dataset):
    """One split of a dataset: example i is (token ids, label id)."""

    def __init__(self, frame: pd.DataFrame, label_names: list[str]):
        self.ids = [torch.tensor(encode(text)) for text in frame["text"]]
        self.labels = [label_names.index(label) for label in frame["label"]]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.ids[i], self.labels[i]


def collate(batch: list[tuple[torch.Tensor, int]]):
    """A list of examples -> (ids padded to the longest, lengths, labels)."""
    ids = pad_sequence([ids for ids, _ in batch], batch_first=True,
                       padding_value=vocab[PAD])
    lengths = torch.tensor([len(ids) for ids, _ in batch])
    label_ids = torch.tensor([label for _, label in batch])
    return ids, lengths, label_ids


train_set = TextDataset(train, labels("emot"))
first_ids, first_label = train_set[0]
print(len(train_set), "examples; the first one:")
print(first_ids.tolist(), first_label, labels("emot")[first_label])

loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True,
                    collate_fn=collate,
                    generator=torch.Generator().manual_seed(0))
ids, lengths, y = next(iter(loader))
print(f"ids: {tuple(ids.shape)}, lengths: {tuple(lengths.shape)},"
      f" labels: {tuple(y.shape)}")
assert ids.shape == (BATCH_SIZE, lengths.max()) and y.shape == (BATCH_SIZE,)
# --8<-- [end:dataset]

# --8<-- [start:sampler]
class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of texts with similar lengths, shuffled every epoch.

    Each epoch: shuffle all indices, cut them into pools of `pool_batches`
    batches, sort each pool by length, cut it into batches, then shuffle
    the order of all the batches.
    """

    def __init__(self, lengths: list[int], batch_size: int,
                 generator: torch.Generator, pool_batches: int = 50):
        self.lengths = lengths
        self.batch_size = batch_size
        self.pool_size = batch_size * pool_batches
        self.generator = generator

    def __len__(self) -> int:  # the number of batches
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.lengths)
        indices = torch.randperm(n, generator=self.generator).tolist()
        batches = []
        for start in range(0, n, self.pool_size):
            pool = indices[start : start + self.pool_size]
            pool = sorted(pool, key=lambda i: self.lengths[i])
            for i in range(0, len(pool), self.batch_size):
                batches.append(pool[i : i + self.batch_size])
        order = torch.randperm(len(batches), generator=self.generator)
        for b in order.tolist():
            yield batches[b]


sampler = BucketBatchSampler([len(ids) for ids in train_set.ids], BATCH_SIZE,
                             generator=torch.Generator().manual_seed(0))
bucket_loader = DataLoader(train_set, batch_sampler=sampler,
                           collate_fn=collate)

epoch_1, epoch_2 = list(sampler), list(sampler)
for epoch in (epoch_1, epoch_2):
    # every index exactly once per epoch
    all_indices = sorted(i for batch in epoch for i in batch)
    assert all_indices == list(range(len(train_set)))
assert epoch_1 != epoch_2  # a new order every epoch

print("batches per epoch:", len(sampler))
for batch in epoch_1[:3]:
    batch_lengths = [len(train_set.ids[i]) for i in batch]
    print(f"a batch of {len(batch)} texts,"
          f" lengths {min(batch_lengths)} to {max(batch_lengths)}")
# --8<-- [end:sampler]

# --8<-- [start:compare]
def loader_waste(loader: DataLoader) -> float:
    """Share of pad tokens in all the batches of one epoch."""
    real = padded = 0
    for ids, lengths, _ in loader:
        real += lengths.sum().item()
        padded += ids.numel()
    return 1 - real / padded


shuffled_waste = loader_waste(loader)
bucket_waste = loader_waste(bucket_loader)
print(f"padding waste, random batches:   {shuffled_waste:.3f}")
print(f"padding waste, bucketed batches: {bucket_waste:.3f}")
assert bucket_waste < shuffled_waste / 3  # bucketing removes most of the padding
# --8<-- [end:compare]
