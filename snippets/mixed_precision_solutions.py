# --8<-- [start:exercise-1]
import torch
from torch import nn

torch.manual_seed(0)

values = torch.tensor([0.1, 300.5, 1e-6, 1e5])
bf16, fp16 = values.to(torch.bfloat16).float(), values.to(torch.float16).float()  # there and back again
print(f"{'value':>8} {'bfloat16':>10} {'error':>7} {'float16':>10} {'error':>7}")
for v, b, f in zip(values.tolist(), bf16.tolist(), fp16.tolist()):
    print(f"{v:>8.4g} {b:>10.4g} {abs(b - v) / v:>7.2%} {f:>10.4g} {abs(f - v) / v:>7.2%}")
assert torch.isinf(values.to(torch.float16)[3])  # 1e5 is above float16's maximum of 65504
assert (values.to(torch.bfloat16).float() - values).abs().div(values).max() < 2**-8  # at most half an eps
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
ids = torch.tensor([[2, 5, 7], [3, 3, 0]])
layers = {
    "nn.EmbeddingBag": (nn.EmbeddingBag(10, 8), ids),
    "nn.Linear": (nn.Linear(8, 8), torch.randn(2, 8)),
    "nn.LayerNorm": (nn.LayerNorm(8), torch.randn(2, 8)),
}
with torch.autocast("cpu", dtype=torch.bfloat16):
    for name, (layer, x) in layers.items():
        print(f"{name:<16} -> {layer(x).dtype}")
    bag_dtype = layers["nn.EmbeddingBag"][0](ids).dtype
assert bag_dtype == torch.float32  # autocast leaves the embedding bag in float32
# --8<-- [end:exercise-2]
