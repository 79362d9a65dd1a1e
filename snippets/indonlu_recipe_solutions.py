# Solutions to the exercises of docs/advanced/indonlu-recipe.md (no model is trained: each runs in seconds).

# --8<-- [start:exercise-1]
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", default="indobenchmark/indobert-base-p1")
parser.add_argument("--dataset", choices=["smsa", "emot"], default="smsa")

kernel_argv = ["-f", "/root/.local/share/jupyter/runtime/kernel-1234.json"]  # what a Jupyter kernel receives
args, ignored = parser.parse_known_args(kernel_argv)
print("parse_known_args:", args, "ignored:", ignored)
try:
    parser.parse_args(kernel_argv)
except SystemExit as stop:  # argparse prints "unrecognized arguments" to stderr and exits with status 2
    print("parse_args: exits with status", stop.code)

mine = parser.parse_known_args(["--dataset", "emot"])[0]  # in a notebook: main(["--dataset", "emot"])
print("own list:", mine)
assert args.dataset == "smsa" and ignored == kernel_argv and mine.dataset == "emot"
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
import math

import torch
from transformers import get_linear_schedule_with_warmup

steps = 4 * math.ceil(11_000 / 32)  # the script's defaults on SmSA: 4 epochs of 344 batches of 32 reviews
optimizer = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=3e-5)
schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=steps // 10, num_training_steps=steps)
rates = []
for _ in range(steps):
    rates.append(optimizer.param_groups[0]["lr"])  # the rate used by this step
    optimizer.step()
    schedule.step()
for step in [0, 68, 137, 500, 1000, 1375]:
    print(f"step {step:>4}: learning rate {rates[step]:.2e}")
assert rates[0] == 0 and max(rates) == rates[steps // 10] == 3e-5 and rates[-1] < 1e-7
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
import numpy as np

rng = np.random.default_rng(0)
runs, epochs, noise = 10_000, 4, 0.02  # 4 epochs, each epoch's score off by about 2 points of macro-F1
true_f1 = np.array([0.88, 0.90, 0.90, 0.89])  # how good each epoch's model really is
valid = true_f1 + rng.normal(0, noise, (runs, epochs))  # what the valid split measures
test = true_f1 + rng.normal(0, noise, (runs, epochs))  # what the test split measures, independently

by_valid = test[np.arange(runs), valid.argmax(1)]  # the script: choose on valid, report test
by_test = test.max(1)  # choose the epoch by its test score
print(f"true quality of the best epoch: {true_f1.max():.3f}")
print(f"reported test macro-F1 - chosen on valid: {by_valid.mean():.3f}, chosen on test: {by_test.mean():.3f}")
assert by_valid.mean() < true_f1.max() < by_test.mean() - 0.01  # choosing on test flatters the model
# --8<-- [end:exercise-3]
