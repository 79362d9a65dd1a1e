# tutorial-test: timeout=180
# --8<-- [start:setup]
import math
from dataclasses import replace

import torch
from torch import nn

from dlnlp.zoo import FULL, Settings, majority_f1, run, save_results

torch.manual_seed(0)  # the same first weights and batch order on every run
torch.set_num_threads(1)  # one CPU thread, as in every zoo model: steadier, comparable training times
# --8<-- [end:setup]


# --8<-- [start:model]
class TransformerClassifier(nn.Module):
    """Token + learned position embeddings -> Transformer encoder -> masked mean pooling -> Linear."""

    def __init__(self, vocab_size: int, n_classes: int, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, d_ff: int = 128, dropout: float = 0.1, max_len: int = 128):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.positions = nn.Embedding(max_len, d_model)  # one learned vector per position 0, 1, 2, ...
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=d_ff, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)  # pre-norm layers leave their output un-normalized: finish here
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, n_classes)

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, time) ids -> (batch, time, d_model) vectors, and the padding mask (True = padding)."""
        time = ids.shape[1]
        padding = torch.arange(time, device=ids.device)[None, :] >= lengths[:, None]  # (batch, time)
        x = self.tokens(ids) + self.positions(torch.arange(time, device=ids.device))[None]  # broadcast over the batch
        h = self.encoder(self.dropout(x), src_key_padding_mask=padding)  # nobody attends TO padding
        return self.norm(h), padding

    def pool(self, h: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """Average over the real positions only: padded positions get weight 0."""
        keep = (~padding).unsqueeze(-1).to(h.dtype)  # (batch, time, 1)
        return (h * keep).sum(dim=1) / keep.sum(dim=1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, padding = self.encode(ids, lengths)
        return self.head(self.dropout(self.pool(h, padding)))
# --8<-- [end:model]


# --8<-- [start:toy-batch]
model = TransformerClassifier(vocab_size=1000, n_classes=3).eval()  # eval(): dropout off, outputs repeatable
ids = torch.tensor([[5, 17, 42, 8, 99],
                    [7, 23, 0, 0, 0]])  # the second text has 2 real tokens and 3 padding ids
lengths = torch.tensor([5, 2])
with torch.no_grad():
    h, padding = model.encode(ids, lengths)
    logits = model(ids, lengths)
print("padding mask:\n", padding)
print("hidden states:", tuple(h.shape), " pooled:", tuple(model.pool(h, padding).shape),
      " logits:", tuple(logits.shape))
assert h.shape == (2, 5, 64) and logits.shape == (2, 3)
# --8<-- [end:toy-batch]

# --8<-- [start:padding-check]
with torch.no_grad():
    alone, _ = model.encode(ids[1:, :2], lengths[1:])  # the short text on its own: no padding at all
    more = torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], dim=1)  # 4 more padding columns
    h_more, padding_more = model.encode(more, lengths)
    gap = (h[1, :2] - alone[0]).abs().max().item()
    pooled_gap = (model.pool(h, padding)[1] - model.pool(alone, torch.zeros(1, 2, dtype=torch.bool))[0]).abs().max()
print(f"largest change of a real position's vector caused by padding: {gap:.1e}")
assert torch.allclose(h[1, :2], alone[0], atol=1e-5)  # real positions ignore the padding...
assert torch.allclose(h_more[:, :5][~padding], h[~padding], atol=1e-5)  # ...however much of it there is
assert pooled_gap < 1e-5  # and so does the pooled sentence vector
assert torch.allclose(model(more, lengths), logits, atol=1e-5)  # same logits with 4 extra padding columns
# --8<-- [end:padding-check]

# --8<-- [start:parameters]
def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


for name, part in [("token embeddings", model.tokens), ("position embeddings", model.positions),
                   ("encoder (2 layers)", model.encoder), ("final norm + head", [model.norm, model.head])]:
    n = count(part) if isinstance(part, nn.Module) else sum(count(m) for m in part)
    print(f"{name:<20} {n:>8,}")
print(f"{'total':<20} {count(model):>8,}")
one_layer = model.encoder.layers[0]
assert count(one_layer.self_attn) == 4 * (64 * 64 + 64)  # query, key, value and output projections
assert count(model) == 1000 * 64 + 128 * 64 + count(model.encoder) + 2 * 64 + 64 * 3 + 3
# --8<-- [end:parameters]

# --8<-- [start:sinusoidal]
def sinusoidal(max_len: int, d_model: int) -> torch.Tensor:
    """Vaswani et al. (2017): fixed sines and cosines of geometrically spaced frequencies, no parameters."""
    position = torch.arange(max_len).unsqueeze(1)  # (max_len, 1)
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d_model / 2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


table = sinusoidal(128, 64)
similarity = table @ table[10] / 32  # dot product with position 10, scaled so that position 10 gives 1.0
print("similarity of position 10 to positions 8..12:", [round(v, 3) for v in similarity[8:13].tolist()])
print("similarity of position 10 to positions 40, 80:", [round(v, 3) for v in similarity[[40, 80]].tolist()])
assert similarity[10] > similarity[11] > similarity[40]  # near positions look alike, far ones less
# --8<-- [end:sinusoidal]

# --8<-- [start:settings]
if FULL:  # the benchmark (DLNLP_FULL=1): all training data, model selection on valid
    settings = Settings(epochs=12, lr=2e-3, batch_size=64, weight_decay=0.01, patience=4, max_len=64)
    epochs_for = {"smsa": 5}  # SmSA's 11,000 texts: at most 5 epochs, to stay within the benchmark's time bar
else:  # the quick CI run: a subset and few epochs, so that the test suite runs it quickly
    settings = Settings(epochs=3, lr=2e-3, weight_decay=0.01, patience=3, max_len=64, train_limit=600)
    epochs_for = {}
print(settings)
# --8<-- [end:settings]

# --8<-- [start:train]
# The benchmark trains every dataset once with each seed in SEEDS, fixed before any run (the seed sets the first
# weights, the dropout masks and the batch order); the quick run uses the first seed only.
from dlnlp.zoo import SEEDS

results = []
for dataset in ["emot", "smsa", "nusax_id"]:  # each trained and scored on its own splits only
    dataset_settings = replace(settings, epochs=epochs_for.get(dataset, settings.epochs))
    floor = majority_f1(dataset)
    for seed in SEEDS if FULL else SEEDS[:1]:
        result = run("transformer", dataset,
                     lambda vocab_size, n_classes: TransformerClassifier(vocab_size, n_classes),
                     dataset_settings, seed=seed)
        print(f"{result}\n{'':<9} majority-class test macro-F1 {floor:.3f}")
        if not FULL:
            assert result.test_f1 > floor + 0.1, f"{dataset}: no clear margin over the majority class"
        results.append(result)
if FULL:
    save_results(results, "zoo_transformer_encoder.json")  # benchmarks/zoo.py reads this file
# --8<-- [end:train]
