# tutorial-test: timeout=180
# --8<-- [start:setup]
import torch
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import Vocab, tokenize
from dlnlp.zoo import FULL, Settings, majority_f1, run, save_results

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread, as in every zoo model: steadier, comparable training times
# --8<-- [end:setup]

# --8<-- [start:conv-by-hand]
dim, width = 4, 2  # 4 numbers per word vector; the filter looks at 2 words at a time (a bigram)
words = torch.randn(1, dim, 6)  # ONE text of 6 words, laid out as (batch, channels=dim, time)
conv = nn.Conv1d(in_channels=dim, out_channels=1, kernel_size=width)

by_hand = torch.stack([
    (conv.weight[0] * words[0, :, t:t + width]).sum() + conv.bias[0]  # dot product of filter and window
    for t in range(6 - width + 1)  # a window can start at positions 0..4: 5 windows
])
print("Conv1d :", conv(words)[0, 0].detach().numpy().round(3))
print("by hand:", by_hand.detach().numpy().round(3))
assert conv(words).shape == (1, 1, 6 - width + 1)
assert torch.allclose(conv(words)[0, 0], by_hand, atol=1e-6)
# --8<-- [end:conv-by-hand]

# --8<-- [start:detector]
toy = Vocab(["makanannya tidak enak", "makanannya enak tapi mahal", "tidak mahal"], min_freq=1)
embed = nn.Embedding(len(toy), 16, padding_idx=0)  # random 16-number word vectors
detector = nn.Conv1d(16, 1, kernel_size=2, bias=False)
with torch.no_grad():  # set the filter by hand: its two columns are the vectors of "tidak" and "enak"
    detector.weight[0] = embed.weight[[toy.stoi["tidak"], toy.stoi["enak"]]].T

scores = {}
for text in ["makanannya tidak enak", "tidak mahal , tidak enak", "enak tapi mahal", "enak tidak", "tapi mahal"]:
    windows = detector(embed(torch.tensor([toy.encode(text)])).transpose(1, 2))[0, 0].detach()  # one score per bigram
    best = int(windows.argmax())
    scores[text] = float(windows.max())
    print(f"{text:<26} best bigram: {' '.join(tokenize(text)[best:best + 2]):<12} score {windows.max():6.2f}")
assert scores["makanannya tidak enak"] == scores["tidak mahal , tidak enak"]  # same bigram, any position
assert scores["makanannya tidak enak"] > max(scores["enak tidak"], scores["tapi mahal"])  # order matters
# --8<-- [end:detector]

# --8<-- [start:model]
class ConvTextClassifier(nn.Module):
    """Kim (2014): word vectors -> convolutions of several widths -> ReLU -> max over time -> dropout -> Linear."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 64, widths: tuple[int, ...] = (2, 3, 4, 5),
                 filters: int = 64, dropout: float = 0.5):
        super().__init__()
        self.widths = widths
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)  # id 0 (<pad>) is a vector of zeros
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, kernel_size=k) for k in widths)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(filters * len(widths), n_classes)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time) token ids -> (batch, filters * len(widths)): each filter's best score in each text."""
        if ids.size(1) < max(self.widths):  # a batch of very short texts: pad so every filter fits once
            ids = nn.functional.pad(ids, (0, max(self.widths) - ids.size(1)))
        x = self.embed(ids).transpose(1, 2)  # (batch, dim, time): Conv1d wants channels before time
        pooled = []
        for conv, k in zip(self.convs, self.widths):
            h = torch.relu(conv(x))  # (batch, filters, time - k + 1): one score per window
            starts = torch.arange(h.size(2), device=ids.device)  # where each window starts
            last = (lengths - k).clamp(min=0)  # the last start whose window ends inside the text
            real = starts[None, :] <= last[:, None]  # (batch, windows): False for windows reaching into padding
            h = h.masked_fill(~real[:, None, :], float("-inf"))  # -inf never wins a max
            pooled.append(h.amax(dim=2))  # max over time: (batch, filters)
        return torch.cat(pooled, dim=1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(ids, lengths)))
# --8<-- [end:model]

# --8<-- [start:shapes]
texts = ["makanannya tidak enak", "tidak mahal", "makanannya enak tapi mahal"]
seqs = [torch.tensor(toy.encode(t)) for t in texts]
ids = nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=0)  # what make_loader builds
lengths = torch.tensor([len(s) for s in seqs])
model = ConvTextClassifier(len(toy), n_classes=3, dim=8, widths=(2, 3), filters=5).eval()

x = model.embed(ids).transpose(1, 2)
h3 = model.convs[1](x)
print("token ids         ", tuple(ids.shape), ids.tolist())
print("embeddings        ", tuple(x.shape))
print("width-3 scores    ", tuple(h3.shape))
print("pooled features   ", tuple(model.features(ids, lengths).shape))
print("logits            ", tuple(model(ids, lengths).shape))
assert ids.shape == (3, 4) and x.shape == (3, 8, 4)
assert h3.shape == (3, 5, 4 - 3 + 1)  # 4 positions, width 3: 2 windows
assert model.features(ids, lengths).shape == (3, 5 * 2)  # 5 filters for each of 2 widths
assert model(ids, lengths).shape == (3, 3)
# --8<-- [end:shapes]

# --8<-- [start:padding]
alone = model(ids[1:2, :2], lengths[1:2])  # "tidak mahal" on its own, no padding at all
padded = model(ids, lengths)[1:2]  # the same text inside the batch, padded to 4 positions
much_more = model(nn.functional.pad(ids, (0, 20)), lengths)[1:2]  # 20 more <pad> ids on the right
print("alone      ", alone.detach().numpy().round(4))
print("in a batch ", padded.detach().numpy().round(4))
print("+20 padding", much_more.detach().numpy().round(4))
assert torch.allclose(alone, padded, atol=1e-6) and torch.allclose(alone, much_more, atol=1e-6)

unmasked = model.out(torch.cat([torch.relu(c(model.embed(ids).transpose(1, 2))).amax(2) for c in model.convs], 1))
print("no mask    ", unmasked[1:2].detach().numpy().round(4))
# --8<-- [end:padding]

# --8<-- [start:settings]
MODEL = dict(dim=64, widths=(2, 3, 4, 5), filters=64, dropout=0.5)
if FULL:  # the benchmark (DLNLP_FULL=1): the full published train split; up to 12 epochs, early stopping on valid
    settings = Settings(epochs=12, lr=2e-3)
else:  # the quick run shown on this page: at most 1,000 training examples, 4 epochs
    settings = Settings(epochs=4, lr=2e-3, train_limit=1000)

params = sum(p.numel() for p in ConvTextClassifier(10_000, 3, **MODEL).parameters())
print(f"{params:,} parameters with a 10,000-word vocabulary and 3 classes")
# --8<-- [end:settings]

# --8<-- [start:train]
# The benchmark trains every dataset once with each seed in SEEDS, fixed before any run (the seed sets the first
# weights and the batch order); the quick run uses the first seed only.
from dlnlp.zoo import SEEDS

kept = {}  # the last model and vocabulary that `run` built, so that we can look inside them afterwards


def make_model(vocab_size: int, n_classes: int) -> nn.Module:
    kept["model"] = ConvTextClassifier(vocab_size, n_classes, **MODEL)
    return kept["model"]


def make_encoder(train_texts: list[str]):
    kept["vocab"] = Vocab(train_texts, min_freq=2)  # the same as the zoo's default word encoder
    return kept["vocab"].encode, len(kept["vocab"])


results = []
for dataset in ["emot", "smsa", "nusax_id"]:  # each trains on its own train split and is scored on its own test
    for seed in SEEDS if FULL else SEEDS[:1]:
        result = run("convolutional", dataset, make_model, settings, make_encoder, seed=seed)
        results.append(result)
        print(result, f"| majority {majority_f1(dataset):.3f}")
        if not FULL:
            assert result.test_f1 > majority_f1(dataset) + 0.2, "the CNN should beat the majority class by far"
if FULL:
    save_results(results, "zoo_convolutional.json")  # benchmarks/zoo.py reads this file
# --8<-- [end:train]

# --8<-- [start:filters]
model, vocab = kept["model"].eval(), kept["vocab"]  # the model trained on NusaX Indonesian, the last dataset
names = labels("nusax_id")
width = 3
conv, first = model.convs[model.widths.index(width)], model.widths.index(width) * conv.out_channels
votes = model.out.weight[:, first:first + conv.out_channels]  # (classes, filters): how each filter votes
leaning = votes[names.index("positive")] - votes[names.index("negative")]

with torch.no_grad():
    for label, f in [("positive", int(leaning.argmax())), ("negative", int(leaning.argmin()))]:
        best = {}  # trigram -> the filter's highest score on it
        for text in load("nusax_id", "valid")["text"]:
            ids = vocab.encode(text)
            if len(ids) < width:
                continue
            scores = torch.relu(conv(model.embed(torch.tensor([ids])).transpose(1, 2)))[0, f]
            for start, score in enumerate(scores.tolist()):
                gram = " ".join(vocab.itos[i] for i in ids[start:start + width])
                best[gram] = max(score, best.get(gram, 0.0))
        top = sorted(best.items(), key=lambda item: -item[1])[:3]
        print(f"width-{width} filter {f}, votes most for {label}:")
        for gram, score in top:
            print(f"   {score:6.2f}  {gram}")
# --8<-- [end:filters]
