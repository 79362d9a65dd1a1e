# Solutions to the exercises of docs/intermediate/transformer-encoder.md (no training: each runs in a second).

# --8<-- [start:exercise-1]
import math

import torch
from torch import nn

torch.manual_seed(0)
torch.set_num_threads(1)

# Without position vectors, the encoder only sees a SET of tokens: shuffling them shuffles its outputs the same way.
d_model = 32
layer = nn.TransformerEncoderLayer(d_model, nhead=4, dim_feedforward=64, batch_first=True, norm_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
tokens = nn.Embedding(100, d_model)
positions = nn.Embedding(16, d_model)

ids = torch.tensor([[11, 12, 13, 14, 15]])  # think "the film was not good"
order = torch.tensor([3, 0, 4, 1, 2])  # a shuffled word order
shuffled = ids[:, order]

with torch.no_grad():
    plain, plain_shuffled = encoder(tokens(ids)), encoder(tokens(shuffled))
    pos = encoder(tokens(ids) + positions(torch.arange(5)))
    pos_shuffled = encoder(tokens(shuffled) + positions(torch.arange(5)))

no_pos_gap = (plain.mean(1) - plain_shuffled.mean(1)).abs().max().item()
with_pos_gap = (pos.mean(1) - pos_shuffled.mean(1)).abs().max().item()
print(f"pooled vector changes under shuffling - without positions: {no_pos_gap:.4f}, with positions: {with_pos_gap:.4f}")
assert torch.allclose(plain[:, order], plain_shuffled, atol=1e-5)  # each token's output just moves along
assert no_pos_gap < 1e-5 < 0.01 < with_pos_gap  # positions are the ONLY source of word order
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
class SinusoidalPositions(nn.Module):
    """Fixed position vectors (Vaswani et al., 2017), stored as a buffer: saved with the model, never trained."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("table", table)

    def forward(self, length: int) -> torch.Tensor:
        return self.table[:length]


learned, fixed = nn.Embedding(128, 64), SinusoidalPositions(128, 64)
n_learned = sum(p.numel() for p in learned.parameters())
n_fixed = sum(p.numel() for p in fixed.parameters())
print(f"trainable parameters - learned positions: {n_learned:,}, sinusoidal positions: {n_fixed}")
print("in the state_dict:", list(fixed.state_dict()), tuple(fixed.state_dict()["table"].shape))
assert n_learned == 128 * 64 and n_fixed == 0
# A sinusoidal table can be computed for any length; a learned one has no vector for position 200.
assert SinusoidalPositions(256, 64)(200).shape == (200, 64)
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
class ClsPooling(nn.Module):
    """Prepend one learned [CLS] vector; after the encoder, its output is the sentence vector."""

    def __init__(self, vocab_size: int, d_model: int = 32, max_len: int = 64):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.positions = nn.Embedding(max_len + 1, d_model)  # one more position: the [CLS] slot is position 0
        layer = nn.TransformerEncoderLayer(d_model, 4, 64, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, time = ids.shape
        x = torch.cat([self.cls.expand(batch, 1, -1), self.tokens(ids)], dim=1)  # (batch, 1 + time, d)
        x = x + self.positions(torch.arange(time + 1, device=ids.device))
        padding = torch.arange(time + 1, device=ids.device)[None, :] >= (lengths[:, None] + 1)  # [CLS] is never padding
        return self.encoder(x, src_key_padding_mask=padding)[:, 0]  # the [CLS] output, (batch, d)


cls_model = ClsPooling(100).eval()
batch = torch.tensor([[5, 17, 42, 8], [7, 23, 0, 0]])
with torch.no_grad():
    pooled = cls_model(batch, torch.tensor([4, 2]))
    alone = cls_model(batch[1:, :2], torch.tensor([2]))
print("sentence vectors:", tuple(pooled.shape), f" padding changes the short one by {(pooled[1] - alone[0]).abs().max():.1e}")
assert pooled.shape == (2, 32) and torch.allclose(pooled[1], alone[0], atol=1e-5)
# --8<-- [end:exercise-3]
