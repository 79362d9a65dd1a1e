# tutorial-test: timeout=180
# --8<-- [start:setup]
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import Vocab, make_loader
from dlnlp.training import class_weights, fit, macro_f1
from dlnlp.zoo import majority_f1

torch.manual_seed(0)  # the same random tensors, first weights and batch order on every run
torch.set_num_threads(1)  # small matrices: one CPU thread is faster than several fighting over them
# --8<-- [end:setup]


# --8<-- [start:attention]
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention (Vaswani et al., 2017), returning the outputs AND the attention weights.

    q: (..., T_q, d), k: (..., T_k, d), v: (..., T_k, d_v). mask: bool, broadcastable to (..., T_q, T_k),
    True where a query MAY look at a key (the convention of F.scaled_dot_product_attention).
    """
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T_q, T_k): how well each query matches each key
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # forbidden pairs: exp(-inf) = 0 in the softmax
    weights = scores.softmax(dim=-1)  # (..., T_q, T_k): every row is a probability distribution over keys
    return weights @ v, weights  # (..., T_q, d_v): each output is a weighted average of the value vectors
# --8<-- [end:attention]


# --8<-- [start:shapes]
q, k, v = torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8)  # (batch, time, features)
out, weights = attention(q, k, v)
print("q, k, v:", tuple(q.shape), " scores and weights:", tuple(weights.shape), " output:", tuple(out.shape))
assert weights.shape == (2, 5, 5) and out.shape == (2, 5, 8)
assert torch.allclose(weights.sum(-1), torch.ones(2, 5))  # each query spreads exactly 1 over the keys

# Why divide by sqrt(d)? The spread of dot products of random d-number vectors grows like sqrt(d).
big_q, big_k = torch.randn(1000, 64), torch.randn(1000, 64)
raw = (big_q * big_k).sum(-1)  # 1000 dot products of 64-number vectors
raw_std, scaled_std = raw.std().item(), (raw / math.sqrt(64)).std().item()
print(f"d = 64: spread (std) of raw dot products {raw_std:.2f}, after dividing by sqrt(d) {scaled_std:.2f}")
assert abs(raw_std - math.sqrt(64)) < 0.5 and abs(scaled_std - 1) < 0.1  # theory: sqrt(d) = 8, then 1
# --8<-- [end:shapes]

# --8<-- [start:check-sdpa]
causal = torch.ones(5, 5, dtype=torch.bool).tril()  # query i may look at keys 0..i
random_mask = torch.rand(2, 5, 5) > 0.3
random_mask[..., 0] = True  # every query may see at least one key (a row with none would be NaN)
checks = {
    "no mask": (attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v)),
    "bool attn_mask": (attention(q, k, v, random_mask)[0], F.scaled_dot_product_attention(q, k, v, random_mask)),
    "is_causal=True": (attention(q, k, v, causal)[0], F.scaled_dot_product_attention(q, k, v, is_causal=True)),
}
for name, (ours, torch_version) in checks.items():
    print(f"{name:<15} largest difference to F.scaled_dot_product_attention: {(ours - torch_version).abs().max():.1e}")
    assert torch.allclose(ours, torch_version, atol=1e-6)
# --8<-- [end:check-sdpa]

# --8<-- [start:padding-mask]
lengths = torch.tensor([5, 3])  # the second text has 3 real tokens, then 2 padding positions
real = torch.arange(5)[None, :] < lengths[:, None]  # (batch, T_k): True = a real token
print("mask (1 = may attend), the same for every query:\n", real.int().numpy())
out, weights = attention(q, k, v, real[:, None, :])  # (batch, 1, T_k) broadcasts over the 5 queries
print("weights of the second text (rows: queries, columns: keys):\n", weights[1].numpy().round(3))
assert (weights[1, :, 3:] == 0).all()  # nobody reads from padding...
alone, _ = attention(q[1:, :3], k[1:, :3], v[1:, :3])  # the 3 real tokens on their own, no padding at all
assert torch.allclose(out[1, :3], alone[0], atol=1e-6)  # ...so the real tokens' outputs ignore the padding
# --8<-- [end:padding-mask]

# --8<-- [start:causal-mask]
causal = torch.ones(4, 4, dtype=torch.bool).tril()
print("causal mask (1 = may attend):\n", causal.int().numpy())
out, weights = attention(q[0, :4], k[0, :4], v[0, :4], causal)
print("weights:\n", weights.numpy().round(3))
assert (weights.triu(diagonal=1) == 0).all()  # no query reads a LATER position
changed_q, changed_k, changed_v = q[0, :4].clone(), k[0, :4].clone(), v[0, :4].clone()
for vectors in (changed_q, changed_k, changed_v):
    vectors[3] += 100.0  # change the last token (its query, key and value): earlier outputs must not notice
assert torch.allclose(attention(changed_q, changed_k, changed_v, causal)[0][:3], out[:3])
# --8<-- [end:causal-mask]


# --8<-- [start:multihead]
class MultiHead(nn.Module):
    """Multi-head attention written out: project, split into heads, attend, merge, project."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        assert d_model % n_heads == 0, "each head gets an equal slice of the features"
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, d_model) -> (batch, heads, time, d_head): each head sees its own d_head features."""
        batch, time, _ = x.shape
        return x.view(batch, time, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """key_padding_mask: (batch, T_k), True = PADDING (the nn.MultiheadAttention convention)."""
        q, k, v = self.split(self.q_proj(query)), self.split(self.k_proj(key)), self.split(self.v_proj(value))
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]  # (batch, 1, 1, T_k)
        out, weights = attention(q, k, v, mask)  # (batch, heads, T_q, d_head), (batch, heads, T_q, T_k)
        batch, _, time, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, time, -1)  # merge the heads: (batch, T_q, d_model)
        return self.out_proj(out), weights.mean(dim=1)  # weights averaged over the heads
# --8<-- [end:multihead]


# --8<-- [start:copy-weights]
theirs = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True).eval()
ours = MultiHead(16, 4).eval()
# PyTorch keeps the query, key and value projections stacked in one (3 * 16, 16) matrix: cut it in three.
with torch.no_grad():
    for linear, weight, bias in zip([ours.q_proj, ours.k_proj, ours.v_proj],
                                    theirs.in_proj_weight.chunk(3), theirs.in_proj_bias.chunk(3)):
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    ours.out_proj.load_state_dict(theirs.out_proj.state_dict())

x = torch.randn(2, 6, 16)
padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # True = padding: the last 2 of text 2
with torch.no_grad():
    their_out, their_weights = theirs(x, x, x, key_padding_mask=padding)  # need_weights=True is the default
    our_out, our_weights = ours(x, x, x, key_padding_mask=padding)
print("outputs:", tuple(our_out.shape), " head-averaged weights:", tuple(our_weights.shape))
print(f"largest difference - outputs: {(our_out - their_out).abs().max():.1e},"
      f" weights: {(our_weights - their_weights).abs().max():.1e}")
assert torch.allclose(our_out, their_out, atol=1e-6) and torch.allclose(our_weights, their_weights, atol=1e-6)
assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == 4 * (16 * 16 + 16)
with torch.no_grad():  # the mask the wrong way round: text 1 has no padding, so it has no key left to read
    flipped, _ = ours(x, x, x, key_padding_mask=~padding)
assert flipped[0].isnan().all() and not flipped[1].isnan().any()
# --8<-- [end:copy-weights]


# --8<-- [start:classifier]
class AttentionClassifier(nn.Module):
    """Word + position embeddings -> our MultiHead self-attention -> attention pooling with a learned query."""

    def __init__(self, vocab_size: int, n_classes: int, d_model: int = 64, n_heads: int = 2, max_len: int = 64):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.positions = nn.Embedding(max_len, d_model)
        self.self_attention = MultiHead(d_model, n_heads)
        self.norm = nn.LayerNorm(d_model)
        # One learned query, "what matters for the label?". Its length, about sqrt(d_model), gives scores of
        # order 1 after the division by sqrt(d_model): a much shorter query would leave the weights near uniform.
        self.query = nn.Parameter(torch.randn(1, 1, d_model))
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, return_weights: bool = False):
        time = ids.shape[1]
        padding = torch.arange(time, device=ids.device)[None, :] >= lengths[:, None]  # (batch, time), True = padding
        x = self.dropout(self.tokens(ids) + self.positions(torch.arange(time, device=ids.device)))
        mixed, self_weights = self.self_attention(x, x, x, key_padding_mask=padding)
        h = self.norm(x + mixed)  # residual connection, then LayerNorm
        query = self.query.expand(len(ids), 1, -1)  # the same learned query for every text: (batch, 1, d_model)
        pooled, pool_weights = attention(query, h, h, ~padding[:, None, :])  # one weighted average per text
        logits = self.head(self.dropout(pooled.squeeze(1)))
        return (logits, self_weights, pool_weights.squeeze(1)) if return_weights else logits
# --8<-- [end:classifier]


# --8<-- [start:train]
names = labels("smsa")
train = load("smsa", "train").sample(n=2000, random_state=0)  # a quick run: 2,000 of the 11,000 training texts
valid, test = load("smsa", "valid"), load("smsa", "test")
vocab = Vocab(train["text"], min_freq=2)  # built from training texts only


def loader(frame, shuffle: bool):
    ids = [vocab.encode(text) for text in frame["text"]]
    return make_loader(ids, [names.index(label) for label in frame["label"]], 32, shuffle, max_len=64)


model = AttentionClassifier(len(vocab), len(names))
train_y = [names.index(label) for label in train["label"]]
history = fit(model, loader(train, True), loader(valid, False), epochs=3, lr=3e-3,
              weights=class_weights(train_y, len(names)), desc="attention")
test_f1, floor = macro_f1(model, loader(test, False)), majority_f1("smsa")
print(f"best epoch {history.best_epoch}, valid macro-F1 {history.best_f1:.3f}")
print(f"test macro-F1 {test_f1:.3f}   majority-class baseline {floor:.3f}")
assert test_f1 > floor + 0.15, "the attention classifier should clearly beat always predicting one class"
# --8<-- [end:train]

# --8<-- [start:one-sentence]
sentence = test["text"].iloc[327]  # a short negative review from the test split
ids = torch.tensor([vocab.encode(sentence)])
tokens = [vocab.itos[i] for i in ids[0]]  # what the model sees: rare words became <unk>
model.eval()
with torch.no_grad():
    logits, self_weights, pool_weights = model(ids, torch.tensor([ids.shape[1]]), return_weights=True)
probabilities = logits.softmax(-1)[0]
predicted = probabilities.argmax().item()
print(sentence)
print(f"gold {test['label'].iloc[327]}, predicted {names[predicted]} (p = {probabilities[predicted]:.3f})")
print("pooling weights:", " ".join(f"{t}:{w:.2f}" for t, w in zip(tokens, pool_weights[0].tolist())))
assert self_weights.shape == (1, len(tokens), len(tokens)) and pool_weights.shape == (1, len(tokens))
# --8<-- [end:one-sentence]

# --8<-- [start:heatmap]
figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 7), height_ratios=[1, len(tokens)], layout="constrained")
scale = {"cmap": "Blues", "vmin": 0.0, "vmax": max(pool_weights.max(), self_weights.max()).item()}  # one color scale
top.imshow(pool_weights, aspect="auto", **scale)
top.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right")
top.set_yticks([0], ["pooling query"])
top.set_title("Attention pooling: the weight of each position in the sentence vector", fontsize=10)
image = bottom.imshow(self_weights[0], **scale)
bottom.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right")
bottom.set_yticks(range(len(tokens)), tokens)
bottom.set_xlabel("key (the position being read)")
bottom.set_ylabel("query (the position reading)")
bottom.set_title("Self-attention, averaged over the 2 heads", fontsize=10)
figure.colorbar(image, ax=[top, bottom], shrink=0.5, label="attention weight")
plt.savefig("attention_heatmap.svg")
plt.close()
# --8<-- [end:heatmap]

# --8<-- [start:erasure]
# Leave one token out at a time: how much does the probability of the predicted class drop?
drops = []
with torch.no_grad():
    for i in range(len(tokens)):
        shorter = torch.cat([ids[:, :i], ids[:, i + 1:]], dim=1)
        p = model(shorter, torch.tensor([shorter.shape[1]])).softmax(-1)[0, predicted]
        drops.append((probabilities[predicted] - p).item())
for token, weight, drop in zip(tokens, pool_weights[0].tolist(), drops):
    print(f"{token:>10}  pooling weight {weight:.2f}  drop in p({names[predicted]}) without it {drop:+.3f}")
most_attended, most_needed = pool_weights[0].argmax().item(), max(range(len(tokens)), key=drops.__getitem__)
print(f"largest pooling weight: {tokens[most_attended]!r}; largest drop when erased: {tokens[most_needed]!r}")
row = self_weights[0, most_attended]  # what the most-pooled position read in the self-attention layer
print(f"the {tokens[most_attended]!r} position read most from {tokens[row.argmax()]!r} (weight {row.max():.2f})")
assert most_attended != most_needed  # the attention weights do not point at the token the prediction needs most
assert tokens[most_needed] == "tidak" and pool_weights[0, most_needed] < 1 / len(tokens)  # less than an even share
assert tokens[row.argmax()] == "tidak"  # ...but it is what the most-pooled position read most
# --8<-- [end:erasure]
