# --8<-- [start:exercise-1]
import torch
from torch import nn

torch.manual_seed(0)

E, H = 8, 16
gru = nn.GRU(E, H, num_layers=2, batch_first=True)
for name, p in gru.named_parameters():
    print(f"{name:14} {str(tuple(p.shape)):9} {p.numel():>5}")

# 3 gates (reset, update, new), each: a weight for its input, one for the hidden state, two biases
layer_1 = 3 * (E * H + H * H + 2 * H)  # layer 1 reads the 8-number token vectors
layer_2 = 3 * (H * H + H * H + 2 * H)  # layer 2 reads layer 1's 16-number states
print(f"formula: {layer_1} + {layer_2} = {layer_1 + layer_2}")
assert sum(p.numel() for p in gru.parameters()) == layer_1 + layer_2
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
PAD = 0


class ConvClassifier(nn.Module):
    """Ids -> Embedding -> Conv1d -> ReLU -> max over the tokens -> Linear."""

    def __init__(self, vocab_size: int, dim: int, channels: int, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.conv = nn.Conv1d(dim, channels, kernel_size=3, padding=1)
        self.classify = nn.Linear(channels, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids).transpose(1, 2)  # (batch, dim, seq): channels first
        features = torch.relu(self.conv(x))  # (batch, channels, seq)
        is_pad = (ids == PAD).unsqueeze(1)  # (batch, 1, seq): the same for all channels
        # a pad can never be the maximum
        features = features.masked_fill(is_pad, float("-inf"))
        strongest = features.max(dim=2).values  # per channel: (batch, channels)
        return self.classify(strongest)  # (batch, num_classes)


# three sentences of 5, 7 and 4 tokens, padded with 0
ids = torch.tensor([[11, 1227, 57, 1, 140, 0, 0],
                    [11, 51, 736, 9, 164, 221, 14],
                    [11, 1125, 1, 18, 0, 0, 0]])
model = ConvClassifier(vocab_size=7155, dim=8, channels=16, num_classes=5)
scores = model(ids)
parameters = sum(p.numel() for p in model.parameters())
print(model)
print("scores:", tuple(scores.shape), " parameters:", parameters)
assert scores.shape == (3, 5)
assert parameters == 7155 * 8 + (8 * 16 * 3 + 16) + (16 * 5 + 5)
more_padding = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)
assert torch.allclose(model(more_padding), scores)  # extra padding changes nothing
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
attention = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
x = torch.randn(3, 7, 8)  # stands in for the embedded batch
pad_mask = ids == PAD
noisy = x.clone()
noisy[pad_mask] = torch.randn(int(pad_mask.sum()), 8)  # change only the pads

for mask in [None, pad_mask]:
    out, weights = attention(x, x, x, key_padding_mask=mask)
    out_noisy, _ = attention(noisy, noisy, noisy, key_padding_mask=mask)
    # how much the REAL tokens' outputs moved
    change = (out - out_noisy)[~pad_mask].abs().max().item()
    # the share of a real token's attention that goes to pads, on average
    on_pads = (weights * pad_mask.unsqueeze(1)).sum(dim=2)[~pad_mask].mean().item()
    print(f"key_padding_mask={'pad_mask' if mask is not None else 'None':8}"
          f"  attention on pads: {on_pads:.3f}"
          f"  real tokens' outputs move by up to {change:.3f}")
    if mask is None:
        assert on_pads > 0.1 and change > 0.01  # the pads leak into the real tokens
    else:
        assert on_pads == 0 and change < 1e-6  # the real tokens never see the pads
# --8<-- [end:exercise-3]
