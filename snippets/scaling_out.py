# tutorial-test: timeout=180
# --8<-- [start:setup]
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from dlnlp.distributed import BagOfEmbeddings

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny tensors: one thread is plenty, and torchrun's two workers need the cores
# --8<-- [end:setup]

# --8<-- [start:launch]
out = Path("scaling_out_run")  # relative: inside the folder this script runs in
command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "dlnlp.distributed", "--out", str(out), "--epochs", "3", "--train-limit", "800",
           "--batch-size", "32"]  # texts per rank and step
# Hide any GPU, so that this check runs the same two CPU processes (gloo) on every machine.
env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
finished = subprocess.run(command, capture_output=True, text=True, env=env)
if finished.returncode != 0:
    raise RuntimeError(f"torchrun failed with exit code {finished.returncode}:\n{finished.stderr}")
for line in finished.stdout.splitlines():
    if line.startswith("[rank 0]"):  # our own log lines; torchrun's notices go to stderr
        print(line)
steps_per_epoch = int(re.search(r"(\d+) steps per epoch", finished.stdout).group(1))  # from rank 0's log
single_process_steps = math.ceil(800 / 32)  # the same 800 texts in batches of 32, in one process
assert steps_per_epoch == math.ceil(800 / 2 / 32)  # each of the 2 ranks reads half of the texts per epoch
accuracies = [float(a) for a in re.findall(r"valid accuracy ([\d.]+)", finished.stdout)]
assert accuracies == sorted(accuracies)  # the validation accuracy rises from epoch to epoch
# --8<-- [end:launch]

# --8<-- [start:compare]
rank0, rank1 = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
assert rank0.keys() == rank1.keys()
for name in rank0:
    assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"  # bit for bit
parameters = sum(t.numel() for t in rank0.values())
print(f"compared {len(rank0)} tensors ({parameters:,} numbers): rank 0 and rank 1 hold identical weights")
# --8<-- [end:compare]

# --8<-- [start:checkpoint]
state = load_file(out / "checkpoint.safetensors")
print("checkpoint tensors:", {name: tuple(t.shape) for name, t in state.items()})
vocab_size, n_classes = state["embed.weight"].shape[0], state["head.weight"].shape[0]
model = BagOfEmbeddings(vocab_size, n_classes)
model.load_state_dict(state)  # a plain model: saving model.module left no "module." prefix in the names
assert all(torch.equal(state[name], rank0[name]) for name in state)
# --8<-- [end:checkpoint]

# --8<-- [start:gradient-sync]
# Two "ranks" simulated in one process: the same first weights, different halves of one batch of 64 texts.
ids, y = torch.randint(1, 500, (64, 12)), torch.randint(0, 3, (64,))
halves = [(ids[:32], y[:32]), (ids[32:], y[32:])]


def train_copies(sync: bool, steps: int = 5) -> list[nn.Module]:
    torch.manual_seed(0)
    first = BagOfEmbeddings(500, 3)
    copies = [BagOfEmbeddings(500, 3) for _ in halves]
    for copy in copies:
        copy.load_state_dict(first.state_dict())  # as DDP does at the start: broadcast one set of weights
    optimizers = [torch.optim.AdamW(c.parameters(), lr=0.01) for c in copies]
    for _ in range(steps):
        for copy, optimizer, (x, target) in zip(copies, optimizers, halves):
            optimizer.zero_grad()
            nn.functional.cross_entropy(copy(x), target).backward()
        if sync:  # what DDP does in backward(): all_reduce the gradients, divide by the world size
            for params in zip(*(c.parameters() for c in copies)):
                mean = torch.stack([p.grad for p in params]).mean(0)
                for p in params:
                    p.grad = mean.clone()
        for optimizer in optimizers:
            optimizer.step()
    return copies


def largest_gap(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


unsynced, synced = train_copies(sync=False), train_copies(sync=True)
print(f"after 5 steps WITHOUT gradient sync, the copies differ by up to {largest_gap(*unsynced):.4f}")
print(f"after 5 steps WITH gradient sync, the copies differ by up to {largest_gap(*synced):.4f}")
assert largest_gap(*unsynced) > 0.01 and largest_gap(*synced) == 0.0

# And synced training on two halves is the same as training one model on the whole batch of 64.
torch.manual_seed(0)
whole = BagOfEmbeddings(500, 3)
optimizer = torch.optim.AdamW(whole.parameters(), lr=0.01)
for _ in range(5):
    optimizer.zero_grad()
    nn.functional.cross_entropy(whole(ids), y).backward()
    optimizer.step()
print(f"synced copies vs one model on the whole batch: largest gap {largest_gap(synced[0], whole):.1e}")
assert largest_gap(synced[0], whole) < 1e-5  # equal up to float rounding: the sums are done in another order
# --8<-- [end:gradient-sync]
