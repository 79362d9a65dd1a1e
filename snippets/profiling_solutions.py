# tutorial-test: timeout=120
# Solutions to the exercises of docs/intermediate/profiling.md.

# --8<-- [start:exercise-1]
import random

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function, schedule

from dlnlp.data import labels, load
from dlnlp.text import Vocab

random.seed(0)
torch.manual_seed(0)
torch.set_num_threads(1)

train = load("smsa", "train")
vocab = Vocab(train["text"])
lengths = [min(len(vocab.encode(text)), 128) for text in train["text"]]
BATCH_SIZE, MAX_LEN = 32, 128


def real_share(batches: list[list[int]], pad_to_longest: bool) -> float:
    """Real tokens divided by all the positions the model computes on (real tokens + padding)."""
    real = sum(lengths[row] for rows in batches for row in rows)
    positions = sum(len(rows) * (max(lengths[row] for row in rows) if pad_to_longest else MAX_LEN) for rows in batches)
    return real / positions


order = torch.randperm(len(lengths)).tolist()
random_batches = [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
bucketed = []
for pool in (50, len(order) // BATCH_SIZE + 1):  # 50 batches per pool, then one pool = the whole data set
    batches = []
    for start in range(0, len(order), pool * BATCH_SIZE):
        chunk = sorted(order[start : start + pool * BATCH_SIZE], key=lambda row: lengths[row])
        batches += [chunk[i : i + BATCH_SIZE] for i in range(0, len(chunk), BATCH_SIZE)]
    bucketed.append(batches)

shares = {
    "random batches, padded to 128": real_share(random_batches, pad_to_longest=False),
    "random batches, padded to their longest": real_share(random_batches, pad_to_longest=True),
    "bucketed (pools of 50 batches)": real_share(bucketed[0], pad_to_longest=True),
    "bucketed (one pool: sorted data set)": real_share(bucketed[1], pad_to_longest=True),
}
for name, share in shares.items():
    print(f"{name:40} real tokens {share:6.1%}")
values = list(shares.values())
assert values == sorted(values)  # each fix removes more padding than the one before
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
model = nn.EmbeddingBag(len(vocab), 32, padding_idx=0)  # a tiny stand-in model: the schedule is the point
head = nn.Linear(32, 3)
optimizer = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-3)
targets = torch.tensor([labels("smsa").index(label) for label in train["label"]])
encoded = [torch.tensor(vocab.encode(text)[:MAX_LEN]) for text in train["text"]]

counts = {}


def on_trace_ready(prof) -> None:
    """Called when the active steps are over: keep how often each label and operator ran."""
    counts.update({event.key: event.count for event in prof.key_averages()})


steps = schedule(wait=1, warmup=1, active=3, repeat=1)  # skip 1 step, warm up for 1, record 3, then stop
with profile(activities=[ProfilerActivity.CPU], schedule=steps, on_trace_ready=on_trace_ready) as prof:
    for rows in random_batches[:6]:
        ids = nn.utils.rnn.pad_sequence([encoded[row] for row in rows], batch_first=True)
        with record_function("forward"):
            loss = nn.functional.cross_entropy(head(model(ids)), targets[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        prof.step()  # tell the profiler that one training step is over

print("training steps run: 6, 'forward' labels recorded:", counts["forward"])
assert counts["forward"] == 3
# --8<-- [end:exercise-2]
