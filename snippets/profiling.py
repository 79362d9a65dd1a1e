# tutorial-test: timeout=180 volatile=measured volatile_values=speed_up
# --8<-- [start:setup]
import random
import sys
import time

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from dlnlp.data import labels, load
from dlnlp.text import Vocab

random.seed(0)
torch.manual_seed(0)
torch.set_num_threads(1)  # one core: the timings are steadier, less disturbed by other programs
# --8<-- [end:setup]

# --8<-- [start:data]
train = load("smsa", "train")
LABELS = labels("smsa")
texts = list(train["text"])
targets = [LABELS.index(label) for label in train["label"]]
vocab = Vocab(texts)  # built from the training texts: every token seen at least twice gets an id
print(f"{len(texts)} training texts, {len(vocab)} entries in the vocabulary")
# --8<-- [end:data]

# --8<-- [start:model]
class CNNClassifier(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, filters: int = 128, num_classes: int = 3):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)  # the <pad> id always maps to a zero vector
        self.conv = nn.Conv1d(dim, filters, kernel_size=5, padding=2)  # each filter reads 5 neighbouring tokens
        self.out = nn.Linear(filters, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.conv(self.embed(ids).transpose(1, 2)))  # (batch, filters, time)
        is_padding = torch.arange(ids.shape[1], device=ids.device) >= lengths[:, None]  # (batch, time): True after the last token
        features = features.masked_fill(is_padding[:, None, :], float("-inf"))  # padding can never be the max
        return self.out(features.max(dim=2).values)  # each filter's strongest match anywhere in the text


print(CNNClassifier(len(vocab)))
# --8<-- [end:model]

# --8<-- [start:naive-loop]
MAX_LEN = 128  # "long enough for every text": the longest SmSA training text has 118 tokens
BATCH_SIZE = 32


def collate_naive(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tokenize the batch's texts now, in Python, and pad every one of them to MAX_LEN."""
    ids = torch.zeros(len(rows), MAX_LEN, dtype=torch.long)  # 0 is the <pad> id
    lengths = []
    for i, row in enumerate(rows):
        encoded = vocab.encode(texts[row])[:MAX_LEN]
        ids[i, : len(encoded)] = torch.tensor(encoded)
        lengths.append(len(encoded))
    return ids, torch.tensor(lengths), torch.tensor([targets[row] for row in rows])


def random_batches(n_batches: int) -> list[list[int]]:
    """Random batches: any text can sit next to any other, short or long."""
    order = torch.randperm(len(texts)).tolist()
    return [order[i * BATCH_SIZE : (i + 1) * BATCH_SIZE] for i in range(n_batches)]


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[list[int]], collate) -> None:
    """The usual training loop, with each phase labelled for the profiler."""
    loss_fn = nn.CrossEntropyLoss()
    for rows in batches:
        with record_function("collate"):
            ids, lengths, y = collate(rows)
        with record_function("forward"):
            loss = loss_fn(model(ids, lengths), y)
        with record_function("backward"):
            optimizer.zero_grad()
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()
# --8<-- [end:naive-loop]

# --8<-- [start:profile]
PROFILE_STEPS = 8
model = CNNClassifier(len(vocab))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
train_steps(model, optimizer, random_batches(2), collate_naive)  # warm-up: the first steps allocate memory

naive_batches = random_batches(PROFILE_STEPS)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    train_steps(model, optimizer, naive_batches, collate_naive)

table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
print(table, file=sys.stderr)  # the full table, in your terminal: its times change on every run
prof.export_chrome_trace("profiling_trace.json")  # the timeline, for chrome://tracing or ui.perfetto.dev
# --8<-- [end:profile]

# --8<-- [start:top-ops]
top = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:10]
fig, ax = plt.subplots(figsize=(8, 4))
ax.barh([e.key.split(": ")[-1] for e in reversed(top)], [e.self_cpu_time_total / 1000 for e in reversed(top)])
ax.set(xlabel=f"self CPU time over {PROFILE_STEPS} batches (ms)", title="Naive loop: the 10 most expensive operators")
fig.tight_layout()
fig.savefig("profiling_ops.svg")
plt.close(fig)
assert {"aten::convolution_backward", "aten::mkldnn_convolution"} <= {e.key for e in top}  # the convolution
# --8<-- [end:top-ops]

# --8<-- [start:phases]
PHASES = ["collate", "forward", "backward", "optimizer"]


def ms_per_step(prof, steps: int) -> dict[str, float]:
    """Time inside each record_function label, children included, in milliseconds per training step."""
    totals = {event.key: event.cpu_time_total for event in prof.key_averages()}
    return {phase: totals[phase] / 1000 / steps for phase in PHASES}


naive_ms = ms_per_step(prof, PROFILE_STEPS)
total = sum(naive_ms.values())
for phase in PHASES:
    print(f"{phase:>9}: {naive_ms[phase] / total:.0%} of the measured step")
assert naive_ms["forward"] + naive_ms["backward"] > 2 * naive_ms["collate"]  # the model, not the tokenizer
assert naive_ms["backward"] > naive_ms["forward"]  # the backward pass does more work than the forward pass
# --8<-- [end:phases]

# --8<-- [start:shapes]
shapes = {str(e.input_shapes[1]) for e in prof.key_averages(group_by_input_shape=True) if e.key == "aten::embedding"}
print("token-id shapes that reached aten::embedding:", sorted(shapes))

lengths = [min(len(vocab.encode(texts[row])), MAX_LEN) for rows in naive_batches for row in rows]
real_share = sum(lengths) / (len(lengths) * MAX_LEN)
print(f"real tokens: {real_share:.1%} of the {len(lengths) * MAX_LEN} positions; the rest is padding")
assert shapes == {str([BATCH_SIZE, MAX_LEN])} and real_share < 0.4
# --8<-- [end:shapes]

# --8<-- [start:fixes]
encoded = [torch.tensor(vocab.encode(text)[:MAX_LEN]) for text in texts]  # fix 1: tokenize once, up front


def collate_fast(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fix 2: look up the ready-made ids and pad only to the longest text of THIS batch."""
    seqs = [encoded[row] for row in rows]
    ids = nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=0)
    return ids, torch.tensor([len(s) for s in seqs]), torch.tensor([targets[row] for row in rows])


def bucketed_batches(n_batches: int, pool: int = 50) -> list[list[int]]:
    """Fix 3, length bucketing: shuffle, sort each pool of 50 batches' worth of texts by length, cut it into
    batches of similar lengths, then shuffle the batches so training still sees them in a random order."""
    order = torch.randperm(len(texts)).tolist()
    batches = []
    for start in range(0, len(order), pool * BATCH_SIZE):
        chunk = sorted(order[start : start + pool * BATCH_SIZE], key=lambda row: len(encoded[row]))
        batches += [chunk[i : i + BATCH_SIZE] for i in range(0, len(chunk), BATCH_SIZE)]
    random.shuffle(batches)
    return batches[:n_batches]


fast_batches = bucketed_batches(PROFILE_STEPS)
fast_lengths = [len(encoded[row]) for rows in fast_batches for row in rows]
fast_positions = sum(len(rows) * max(len(encoded[row]) for row in rows) for rows in fast_batches)
print("padded lengths of the bucketed batches:", [max(len(encoded[row]) for row in rows) for rows in fast_batches])
print(f"real tokens: {sum(fast_lengths) / fast_positions:.1%} of the {fast_positions} positions")
# --8<-- [end:fixes]

# --8<-- [start:same-loss]
rows = naive_batches[0]
loss_fn = nn.CrossEntropyLoss()
ids_naive, lengths_naive, y_naive = collate_naive(rows)
ids_fast, lengths_fast, y_fast = collate_fast(rows)
with torch.no_grad():
    loss_naive = loss_fn(model(ids_naive, lengths_naive), y_naive)
    loss_fast = loss_fn(model(ids_fast, lengths_fast), y_fast)
print(f"naive batch {tuple(ids_naive.shape)}: loss {loss_naive:.4f}")
print(f"fixed batch {tuple(ids_fast.shape)}: loss {loss_fast:.4f}")
assert torch.equal(lengths_naive, lengths_fast) and torch.equal(y_naive, y_fast)
assert abs(loss_naive - loss_fast) < 1e-6  # the padding after the last token never mattered
# --8<-- [end:same-loss]

# --8<-- [start:profile-fixed]
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof_fast:
    train_steps(model, optimizer, fast_batches, collate_fast)
fast_ms = ms_per_step(prof_fast, PROFILE_STEPS)

fig, ax = plt.subplots(figsize=(7, 3.5))
x = torch.arange(len(PHASES))
ax.bar(x - 0.2, [naive_ms[p] for p in PHASES], width=0.4, label="naive loop")
ax.bar(x + 0.2, [fast_ms[p] for p in PHASES], width=0.4, label="fixed loop")
ax.set_xticks(x, PHASES)
ax.set(ylabel="ms per batch (profiled)", title="Where the time goes, before and after the fixes")
ax.legend()
fig.tight_layout()
fig.savefig("profiling_phases.svg")
plt.close(fig)
for phase in PHASES:
    print(f"{phase:>9}: {naive_ms[phase]:.1f} -> {fast_ms[phase]:.1f} measured ms per batch")

params = sum(p.numel() for p in model.parameters())
embedding_share = model.embed.weight.numel() / params
print(f"Adam updates all {params:,} parameters in every step; {embedding_share:.0%} of them are the embedding")
# --8<-- [end:profile-fixed]

# --8<-- [start:speed-up]
ROUNDS, STEPS = 4, 8


def seconds_per_text(collate, make_batches) -> float:
    """Train a fresh model for STEPS batches, without the profiler; return the wall-clock time per text."""
    model = CNNClassifier(len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = make_batches(STEPS)
    start = time.perf_counter()
    train_steps(model, optimizer, batches, collate)
    return (time.perf_counter() - start) / sum(len(rows) for rows in batches)


naive_times, fast_times = [], []
for _ in range(ROUNDS):  # take turns, so that a busy moment on the machine hits both loops
    naive_times.append(seconds_per_text(collate_naive, random_batches))
    fast_times.append(seconds_per_text(collate_fast, bucketed_batches))
speed_up = min(naive_times) / min(fast_times)  # the best of ROUNDS rounds: the least disturbed by other programs
print(f"measured time per text: naive {min(naive_times) * 1000:.2f} ms, fixed {min(fast_times) * 1000:.2f} ms")
print(f"speed-up: {speed_up:.1f}x measured over {ROUNDS * STEPS} batches of each loop")
assert speed_up >= 1.3
# --8<-- [end:speed-up]
