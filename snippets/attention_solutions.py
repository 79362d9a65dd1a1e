# Solutions to the exercises of docs/advanced/attention.md (no training: each runs in about a second).

# --8<-- [start:exercise-1]
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)

# Softmax ignores a constant added to a whole row: e^(s_j + c) / sum_k e^(s_k + c) = e^(s_j) / sum_k e^(s_k).
scores = torch.randn(4, 6)  # 4 queries, 6 keys
row_constants = 10 * torch.randn(4, 1)  # a different constant for each query (row)
gap = (scores.softmax(-1) - (scores + row_constants).softmax(-1)).abs().max().item()
print(f"adding one constant per row changes the weights by at most {gap:.1e}")
assert gap < 1e-5  # equal up to float32 rounding (s + c is rounded before the exponential)

# That is what makes softmax safe to compute: subtract the row's maximum first, so that exp() cannot overflow.
big = torch.tensor([1000.0, 1001.0, 1002.0])
naive = big.exp() / big.exp().sum()  # exp(1000) is inf in float32, and inf / inf is nan
shifted = (big - big.max()).exp() / (big - big.max()).exp().sum()
print("naive:", naive.tolist(), " shifted:", [round(p, 4) for p in shifted.tolist()])
assert naive.isnan().all() and torch.allclose(shifted, big.softmax(-1))

# Consequence: the bias of the KEY projection never changes the weights. q . (W_k x + b_k) = q . W_k x + q . b_k,
# and q . b_k is the same for every key of a query: a row constant.
d = 8
q, x = torch.randn(4, d), torch.randn(6, d)
W_k, b_k = torch.randn(d, d), torch.randn(d)
without_bias = (q @ (x @ W_k.T).T / math.sqrt(d)).softmax(-1)
with_bias = (q @ (x @ W_k.T + b_k).T / math.sqrt(d)).softmax(-1)
print(f"key bias on vs off: weights differ by at most {(with_bias - without_bias).abs().max():.1e}")
assert torch.allclose(with_bias, without_bias, atol=1e-6)
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
def attention_with_bias(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention plus a fixed bias added to the scores (-inf forbids a pair)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + bias
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


# ALiBi (Press et al., 2022): no position vectors; each head h penalizes a key by slope_h times its distance.
n_heads, time = 4, 6
slopes = torch.tensor([2 ** (-8 * h / n_heads) for h in range(1, n_heads + 1)])  # 1/4, 1/16, 1/64, 1/256
i, j = torch.arange(time)[:, None], torch.arange(time)[None, :]
distance = (i - j).float()  # how far back key j lies from query i
bias = -slopes[:, None, None] * distance  # (heads, time, time)
bias = bias.masked_fill(j > i, float("-inf"))  # causal, as in the paper: no looking ahead

q, k, v = torch.randn(n_heads, time, 8), torch.randn(n_heads, time, 8), torch.randn(n_heads, time, 8)
out, _ = attention_with_bias(q, k, v, bias)
reference = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # a float mask is ADDED to the scores
assert torch.allclose(out, reference, atol=1e-6)

# With identical scores (all queries zero), only the bias speaks: weights fall off with distance, faster for
# a steeper slope. The last query (position 5) looks back at positions 0..5:
_, weights = attention_with_bias(torch.zeros_like(q), k, v, bias)
for h in range(n_heads):
    print(f"head {h + 1} (slope {slopes[h]:.4f}):", weights[h, -1].numpy().round(3))
assert (weights[0, -1].diff() > 0).all()  # nearer keys get more weight
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
# Cross-attention: 3 queries (e.g. a decoder's tokens) read from 7 keys/values (e.g. an encoded sentence).
def attention(q, k, v, mask=None):
    """The function from the page, unchanged."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


q = torch.randn(2, 3, 8)  # (batch, T_q = 3, d)
k = torch.randn(2, 7, 8)  # (batch, T_k = 7, d): keys and queries must share d, to take dot products
v = torch.randn(2, 7, 5)  # (batch, T_k = 7, d_v = 5): values may have another size
real = torch.arange(7)[None, :] < torch.tensor([7, 4])[:, None]  # the second sentence has 4 real tokens
out, weights = attention(q, k, v, real[:, None, :])
print("weights:", tuple(weights.shape), " outputs:", tuple(out.shape))
assert weights.shape == (2, 3, 7) and out.shape == (2, 3, 5)  # one row per QUERY, one column per KEY
assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=real[:, None, :]), atol=1e-6)
assert (weights[1, :, 4:] == 0).all()  # padding of the key sentence gets no weight
# --8<-- [end:exercise-3]
