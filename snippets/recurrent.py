# tutorial-test: timeout=180
# --8<-- [start:setup]
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from dlnlp.data import labels, load
from dlnlp.text import Vocab, tokenize
from dlnlp.zoo import FULL, Settings, majority_f1, run, save_results

torch.manual_seed(0)  # the same weights, dropout masks and batch order on every run
torch.set_num_threads(1)  # one CPU thread, as in every zoo model: steadier, comparable training times
# --8<-- [end:setup]


# --8<-- [start:model]
class AttentionRNN(nn.Module):
    """ids -> Embedding -> bidirectional GRU (or LSTM) -> attention pooling -> dropout -> Linear."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 100, hidden: int = 64,
                 dropout: float = 0.5, cell: str = "gru"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        recurrent = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = recurrent(dim, hidden, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden, 2 * hidden)  # u_t = tanh(W h_t + b) (Yang et al., 2016)
        self.query = nn.Parameter(0.1 * torch.randn(2 * hidden))  # the learned question "is this token useful?"
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_classes)

    def attend(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, seq) ids -> sentence vectors (batch, 2*hidden) and attention weights (batch, seq)."""
        x = self.dropout(self.embed(ids))  # (batch, seq, dim)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = self.rnn(packed)  # the GRU reads only the real tokens of each sentence
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=ids.shape[1])  # (batch, seq, 2*hidden)
        scores = torch.tanh(self.score(states)) @ self.query  # one score per time step: (batch, seq)
        real = torch.arange(ids.shape[1], device=ids.device) < lengths.to(ids.device)[:, None]  # True on tokens
        weights = scores.masked_fill(~real, float("-inf")).softmax(dim=1)  # exp(-inf) = 0: pads get no weight
        return (weights.unsqueeze(-1) * states).sum(dim=1), weights

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        sentence, _ = self.attend(ids, lengths)
        return self.out(self.dropout(sentence))  # (batch, n_classes) logits
# --8<-- [end:model]


# --8<-- [start:toy-batch]
toy_texts = ["filmnya bagus sekali", "jelek", "saya tidak suka makanan di restoran itu"]
toy_vocab = Vocab(toy_texts, min_freq=1)
seqs = [torch.tensor(toy_vocab.encode(text)) for text in toy_texts]
lengths = torch.tensor([len(s) for s in seqs])
ids = pad_sequence(seqs, batch_first=True, padding_value=0)  # (3, 7): the longest sentence has 7 tokens
print("ids:", tuple(ids.shape), "lengths:", lengths.tolist())

model = AttentionRNN(len(toy_vocab), n_classes=3).eval()  # eval(): dropout off, so outputs are comparable
with torch.no_grad():
    logits = model(ids, lengths)
    sentence, weights = model.attend(ids, lengths)
    more_padding = torch.cat([ids, torch.zeros(3, 5, dtype=torch.long)], dim=1)  # 5 extra pad columns
    alone = torch.cat([model(s.unsqueeze(0), torch.tensor([len(s)])) for s in seqs])  # one sentence per batch
    reversed_ids = torch.stack([torch.cat([s.flip(0), ids[i, len(s):]]) for i, s in enumerate(seqs)])
    reversed_logits = model(reversed_ids, lengths)

print("logits:", tuple(logits.shape), "sentence vectors:", tuple(sentence.shape), "weights:", tuple(weights.shape))
assert logits.shape == (3, 3) and sentence.shape == (3, 2 * 64) and weights.shape == (3, 7)
assert torch.allclose(model(more_padding, lengths), logits, atol=1e-6)  # more padding: same output
assert torch.allclose(alone, logits, atol=1e-6)  # batched with longer sentences or alone: same output
assert torch.allclose(weights.sum(dim=1), torch.ones(3))  # the weights of each sentence sum to 1 ...
for row, n in zip(weights, lengths):
    assert (row[n:] == 0).all() and (row[:n] > 0).all()  # ... over its real tokens only; pads get exactly 0
assert not torch.allclose(reversed_logits[2], logits[2], atol=1e-4)  # word order changes the output
print("attention weights of 'jelek' (1 token + 6 pads):", weights[1].tolist())

sizes = {name: sum(p.numel() for p in part.parameters())
         for name, part in [("embedding", model.embed), ("bi-GRU", model.rnn), ("out", model.out)]}
sizes["attention"] = model.score.weight.numel() + model.score.bias.numel() + model.query.numel()
print("parameters:", sizes, "total", sum(p.numel() for p in model.parameters()))
# --8<-- [end:toy-batch]

# --8<-- [start:settings]
DIM, HIDDEN, DROPOUT, MIN_FREQ = 100, 64, 0.5, 2
if FULL:  # the benchmark: every training example, up to 12 epochs with early stopping on valid macro-F1
    settings = Settings(epochs=12, lr=3e-3, weight_decay=0.01, max_len=64, patience=3)
    per_dataset = {"emot": {"batch_size": 32}, "nusax_id": {"batch_size": 16},  # few texts: small batches
                   "smsa": {"batch_size": 64, "epochs": 6}}  # 11,000 texts: large batches, fewer epochs (time)
else:  # the quick CI run shown on this page: a subset, 3 epochs, shorter texts
    settings = Settings(epochs=3, lr=3e-3, weight_decay=0.01, max_len=40, train_limit=500)
    per_dataset = {"emot": {}, "smsa": {}, "nusax_id": {}}
print(settings)

trained = {}  # run() builds the vocabulary and the model inside; keep them to look at the attention later


def make_encoder(train_texts: list[str]):
    trained["vocab"] = Vocab(train_texts, min_freq=MIN_FREQ)  # words seen at least twice in train
    return trained["vocab"].encode, len(trained["vocab"])


def make_model(vocab_size: int, n_classes: int) -> nn.Module:
    trained["model"] = AttentionRNN(vocab_size, n_classes, DIM, HIDDEN, DROPOUT)
    return trained["model"]
# --8<-- [end:settings]

# --8<-- [start:train]
# The benchmark trains every dataset once with each seed in SEEDS, fixed before any run (the seed sets the first
# weights, the dropout masks and the batch order); the quick run uses the first seed only.
from dlnlp.zoo import SEEDS

results = []
for dataset in ["emot", "smsa", "nusax_id"]:  # each model is trained and scored on ONE dataset's own splits
    dataset_settings = replace(settings, **per_dataset[dataset])  # a copy with this dataset's changes
    for seed in SEEDS if FULL else SEEDS[:1]:
        result = run("bigru_attention", dataset, make_model, dataset_settings, make_encoder=make_encoder, seed=seed)
        results.append(result)
        print(result, f"| majority {majority_f1(dataset):.3f}")
        if not FULL:
            assert result.test_f1 > majority_f1(dataset) + 0.15  # clearly better than always the commonest label

if FULL:
    save_results(results, "zoo_recurrent.json")  # the benchmark (benchmarks/zoo.py) reads this file
# --8<-- [end:train]

# --8<-- [start:attention]
model, vocab = trained["model"].eval(), trained["vocab"]  # the model just trained on NusaX Indonesian
valid = load("nusax_id", "valid")
text, label = next((t, l) for t, l in valid[["text", "label"]].values if 8 <= len(tokenize(t)) <= 14)
ids = torch.tensor([vocab.encode(text)])
with torch.no_grad():
    probabilities = model(ids, torch.tensor([ids.shape[1]])).softmax(dim=1)[0]
    _, weights = model.attend(ids, torch.tensor([ids.shape[1]]))

names = labels("nusax_id")
print(text)
print(f"gold: {label}, predicted: {names[probabilities.argmax()]} ({probabilities.max():.2f})")
for token, i, weight in zip(tokenize(text), ids[0].tolist(), weights[0].tolist()):
    marker = "  (unknown: <unk>)" if i == 1 else ""
    print(f"{token:>14} {weight:.2f}{marker}")
assert abs(weights.sum().item() - 1) < 1e-6

fig, ax = plt.subplots(figsize=(6, 0.3 * ids.shape[1] + 1))
ax.barh(range(ids.shape[1]), weights[0].tolist(), color="tab:blue")
ax.set_yticks(range(ids.shape[1]), tokenize(text))
ax.invert_yaxis()  # first token on top, as you read the sentence
ax.set(xlabel="attention weight", title=f"Where the model looks (gold: {label})")
fig.tight_layout()
fig.savefig("recurrent_attention.svg")
plt.close(fig)
# --8<-- [end:attention]
