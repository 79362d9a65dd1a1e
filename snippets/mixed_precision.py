# tutorial-test: timeout=240 volatile=timing volatile_values=ratio,cpu_capability
# --8<-- [start:setup]
import copy
import sys
import time

import torch
from sklearn.metrics import f1_score
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import Vocab, make_loader

torch.manual_seed(0)
torch.set_num_threads(1)  # one thread: the timings below are steadier
# On stderr (not recorded, it differs between computers): the vector instructions PyTorch uses on this CPU.
cpu_capability = torch.backends.cpu.get_cpu_capability()
print("CPU capability:", cpu_capability, file=sys.stderr)
# --8<-- [end:setup]

# --8<-- [start:formats]
print(f"{'dtype':<15}{'bits':>5}{'eps':>11}{'max':>11}{'smallest normal':>17}")
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):<15}{info.bits:>5}{info.eps:>11.3g}{info.max:>11.3g}{info.tiny:>17.3g}")
# --8<-- [end:formats]

# --8<-- [start:rounding]
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    x = torch.tensor([1.001, 70000.0, 1e-8]).to(dtype)
    print(f"{str(dtype):<15} 1.001 -> {x[0].item():.6f}   70000 -> {x[1].item():<10.6g} 1e-8 -> {x[2].item():.3g}")
# --8<-- [end:rounding]

# --8<-- [start:data]
train, valid, test = load("nusax_id", "train"), load("nusax_id", "valid"), load("nusax_id", "test")
LABELS = labels("nusax_id")
vocab = Vocab(train["text"])


def loader(frame, shuffle: bool):
    ids = [vocab.encode(text) for text in frame["text"]]
    ys = [LABELS.index(label) for label in frame["label"]]
    return make_loader(ids, ys, batch_size=32, shuffle=shuffle, max_len=64)


train_loader, valid_loader, test_loader = loader(train, True), loader(valid, False), loader(test, False)
print(f"train {len(train)}, valid {len(valid)}, test {len(test)} texts; vocabulary {len(vocab)} tokens")
# --8<-- [end:data]

# --8<-- [start:model]
class TinyEncoder(nn.Module):
    """Embeddings + positions -> one Transformer encoder layer -> mean over real tokens -> 3 logits."""

    def __init__(self, vocab_size: int, dim: int = 64, n_classes: int = 3, max_len: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        self.encoder = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=128, dropout=0.1,
                                                  batch_first=True)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)  # on the GPU when ids are
        pad = ids == 0
        h = self.encoder(self.embed(ids) + self.position(positions), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        return self.out((h * keep).sum(1) / keep.sum(1))


start_model = TinyEncoder(len(vocab))
rng_state = torch.get_rng_state()  # both training runs below restart the random numbers from here
print(f"{sum(p.numel() for p in start_model.parameters()):,} parameters")
# --8<-- [end:model]

# --8<-- [start:autocast-dtypes]
linear = start_model.out
h = torch.randn(4, 64)
y = torch.zeros(4, dtype=torch.long)
print("outside autocast: Linear output", linear(h).dtype)
with torch.autocast("cpu", dtype=torch.bfloat16):
    logits = linear(h)
    loss = nn.functional.cross_entropy(logits, y)
    print("inside autocast:  Linear output", logits.dtype)
    print("inside autocast:  cross-entropy", loss.dtype)
    print("inside autocast:  bf16 + float32", (logits + h[:, :3]).dtype)
print("the weights stay", linear.weight.dtype)
assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32 and linear.weight.dtype == torch.float32
# --8<-- [end:autocast-dtypes]

# --8<-- [start:train]
def train_model(use_bf16: bool, epochs: int = 6) -> tuple[nn.Module, float]:
    """Same start weights, same batch order, same dropout masks; only the autocast switch differs."""
    model = copy.deepcopy(start_model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    torch.set_rng_state(rng_state)  # the same dropout masks in both runs
    train_loader.generator.manual_seed(0)  # and the same batch order: the loader shuffles with its own generator
    begin = time.process_time()
    for epoch in range(epochs):
        model.train()
        for ids, lengths, y in train_loader:
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss = loss_fn(model(ids, lengths), y)  # forward pass and loss inside autocast ...
            loss.backward()  # ... backward outside: it reuses the dtypes the forward pass chose
            optimizer.step()
    return model, time.process_time() - begin


def evaluate(model: nn.Module, loader, use_bf16: bool) -> float:
    model.eval()
    predictions, gold = [], []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
        for ids, lengths, y in loader:
            predictions.append(model(ids, lengths).argmax(1))
            gold.append(y)
    return f1_score(torch.cat(gold), torch.cat(predictions), average="macro")


results, models = {}, {}
for name, use_bf16 in [("float32", False), ("bf16 autocast", True)]:
    model, seconds = train_model(use_bf16)
    models[name] = model
    results[name] = (evaluate(model, valid_loader, use_bf16), evaluate(model, test_loader, use_bf16), seconds)
    print(f"{name:<14} valid macro-F1 {results[name][0]:.3f}   test macro-F1 {results[name][1]:.3f}")

ratio = results["bf16 autocast"][2] / results["float32"][2]
print(f"timing: float32 {results['float32'][2]:.1f} s, bf16 autocast {results['bf16 autocast'][2]:.1f} s,"
      f" bf16 time / float32 time = {ratio:.2f}")
for split, column in [("valid", 0), ("test", 1)]:
    gap = abs(results["float32"][column] - results["bf16 autocast"][column])
    assert gap <= 0.05, f"{split} macro-F1 differs by {gap:.3f}"
assert min(r[1] for r in results.values()) > 1 / 3, "both beat a random guess among 3 classes"
# --8<-- [end:train]

# --8<-- [start:loss-scaling]
tiny_gradient = torch.tensor(1e-8)
scale = 2.0**16
print("float16 gradient, unscaled:", tiny_gradient.half().item())
print("float16 gradient, scaled:  ", f"{(tiny_gradient * scale).half().item():.4g}")
print("scaled, then unscaled in float32:", f"{((tiny_gradient * scale).half().float() / scale).item():.3g}")
print("bfloat16 gradient, unscaled:", f"{tiny_gradient.bfloat16().item():.3g}")
assert tiny_gradient.half().item() == 0.0 and tiny_gradient.bfloat16().item() > 0

model = models["float32"]  # the float32 model trained above: its gradients on the first 8 batches
model.train()
gradients = []
for batch, (ids, lengths, y) in zip(range(8), train_loader):
    model.zero_grad()
    nn.functional.cross_entropy(model(ids, lengths), y).backward()
    gradients.append(torch.cat([p.grad.flatten() for p in model.parameters()]).abs())
gradients = torch.cat(gradients)
gradients = gradients[gradients > 0]  # e.g. the embeddings of tokens not in a batch get no gradient
in_float16 = gradients.half()
subnormal_share = (in_float16 < torch.finfo(torch.float16).tiny).float().mean().item()
zero_share = (in_float16 == 0).float().mean().item()
print(f"{len(gradients):,} nonzero gradients: in float16, {subnormal_share:.1%} are below the smallest normal number"
      f" and {zero_share:.2%} become 0")
# --8<-- [end:loss-scaling]

# --8<-- [start:cuda-float16]
def train_float16_cuda(epochs: int = 3) -> float:
    """float16 autocast + GradScaler on a GPU; returns the test macro-F1."""
    model = copy.deepcopy(start_model).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    scaler = torch.amp.GradScaler("cuda")  # starts at scale 65536 and adapts it
    for epoch in range(epochs):
        model.train()
        for ids, lengths, y in train_loader:
            ids, lengths, y = ids.cuda(), lengths.cuda(), y.cuda()
            optimizer.zero_grad()
            with torch.autocast("cuda", dtype=torch.float16):
                loss = nn.functional.cross_entropy(model(ids, lengths), y)
            scaler.scale(loss).backward()  # gradients of (loss * scale): small ones survive in float16
            scaler.step(optimizer)  # unscales; skips the step if any gradient is inf or nan
            scaler.update()  # lower the scale after an overflow, raise it after many good steps
    model.eval()
    predictions, gold = [], []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        for ids, lengths, y in test_loader:
            predictions.append(model(ids.cuda(), lengths.cuda()).argmax(1).cpu())
            gold.append(y)
    return f1_score(torch.cat(gold), torch.cat(predictions), average="macro")


if torch.cuda.is_available():
    print(f"float16 + GradScaler on {torch.cuda.get_device_name()}: test macro-F1 {train_float16_cuda():.3f}")
else:
    print("CUDA not available: skipping the float16 + GradScaler run")
# --8<-- [end:cuda-float16]
