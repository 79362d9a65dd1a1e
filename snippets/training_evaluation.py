# tutorial-test: timeout=180
# --8<-- [start:setup]
import math
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.metrics import ConfusionMatrixDisplay, classification_report, f1_score
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from dlnlp.data import labels, load

SEED = 0
random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)  # first weights and dropout; the DataLoader gets its own seeded generator
torch.use_deterministic_algorithms(True)  # error if an operation is not deterministic
torch.set_num_threads(1)  # a model this small gains little from more threads, and timings stay steadier
# --8<-- [end:setup]

# --8<-- [start:load-data]
train = load("smsa", "train")
valid = load("smsa", "valid")
test = load("smsa", "test")
LABELS = labels("smsa")

print(f"train: {len(train)}, valid: {len(valid)}, test: {len(test)}")
print()
print("share of each label   train   valid")  # test's labels stay unseen until the model is scored
for label in LABELS:
    train_share, valid_share = (train["label"] == label).mean(), (valid["label"] == label).mean()
    print(f"{label:<18} {train_share:7.1%} {valid_share:7.1%}")
    assert abs(train_share - valid_share) < 0.01  # valid looks like train
# --8<-- [end:load-data]

# --8<-- [start:vocab]
def tokenize(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


counts = Counter(token for text in train["text"] for token in tokenize(text))  # TRAIN only
vocab = {"<pad>": 0, "<unk>": 1}
for token, count in counts.most_common():
    if count >= 2:
        vocab[token] = len(vocab)


def encode(text: str) -> list[int]:
    return [vocab.get(token, vocab["<unk>"]) for token in tokenize(text)]


vocab_size = len(vocab)
print(f"vocabulary: {vocab_size} tokens")
print(encode("makanannya enak dan murah , pelayanannya ramah"))
# --8<-- [end:vocab]

# --8<-- [start:dataset]
class SentimentDataset(Dataset):
    """One example = (token ids of one text, label number). Texts are encoded once, up front."""

    def __init__(self, frame):
        self.ids = [torch.tensor(encode(text)) for text in frame["text"]]
        self.labels = torch.tensor([LABELS.index(label) for label in frame["label"]])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i], self.labels[i]


def collate(batch):
    """Examples -> one batch: all ids in one flat tensor, where each text starts, the labels."""
    ids = [item[0] for item in batch]
    offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(dim=0)
    return torch.cat(ids), offsets, torch.stack([item[1] for item in batch])


BATCH_SIZE = 64
train_data, valid_data, test_data = SentimentDataset(train), SentimentDataset(valid), SentimentDataset(test)
train_loader = DataLoader(train_data, batch_size=BATCH_SIZE, shuffle=True, collate_fn=collate,
                          generator=torch.Generator().manual_seed(SEED))  # the same shuffles on every run
valid_loader = DataLoader(valid_data, batch_size=256, collate_fn=collate)  # never shuffled
test_loader = DataLoader(test_data, batch_size=256, collate_fn=collate)

ids, offsets, y = next(iter(train_loader))
rows_used = ids.unique().numel()  # how many different words this batch contains
print("one batch:", ids.shape, offsets.shape, y.shape, f"({rows_used} different token ids)")
assert offsets.shape == y.shape == (BATCH_SIZE,)
# --8<-- [end:dataset]

# --8<-- [start:model]
class SentimentClassifier(nn.Module):
    def __init__(self, vocab_size: int, dim: int, hidden: int, num_classes: int, dropout: float = 0.3):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean")  # text -> average word vector
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embed(ids, offsets))


def new_model() -> SentimentClassifier:
    return SentimentClassifier(len(vocab), dim=64, hidden=64, num_classes=len(LABELS))


model = new_model()
n_parameters = sum(p.numel() for p in model.parameters())
print("parameters:", n_parameters)
assert model.embed.weight.numel() > 0.99 * n_parameters  # almost all of them are word vectors
# the average of word vectors forgets the order: these two texts are the same bag of words
assert sorted(encode("enak tapi tidak murah")) == sorted(encode("murah tapi tidak enak"))
# --8<-- [end:model]

# --8<-- [start:class-weights]
train_counts = torch.bincount(train_data.labels, minlength=len(LABELS))
class_weights = len(train_data) / (len(LABELS) * train_counts.float())  # rare class -> big weight
for label, count, weight in zip(LABELS, train_counts, class_weights):
    print(f"{label:<9} {int(count):5d} training examples  weight {weight:.3f}")
loss_fn = nn.CrossEntropyLoss(weight=class_weights)

# The weighted mean divides by the sum of the weights in the batch, not by the number of examples:
scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 1.0, 3.0], [0.0, 2.0, 0.0]])
targets = torch.tensor([0, 1, 2, 1])
per_example = nn.functional.cross_entropy(scores, targets, reduction="none")
weights = class_weights[targets]
assert torch.isclose(loss_fn(scores, targets), (weights * per_example).sum() / weights.sum())
# --8<-- [end:class-weights]

# --8<-- [start:optimizer]
MAX_EPOCHS = 12
WARMUP_STEPS = 100
total_steps = MAX_EPOCHS * len(train_loader)

optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)


def warmup_then_decay(step: int) -> float:
    """Multiplier of the learning rate: 0 -> 1 over the warm-up, then linearly back to 0 at the last step."""
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    return max(0.0, (total_steps - step) / (total_steps - WARMUP_STEPS))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay)
for step in (0, 50, 99, total_steps // 2, total_steps - 1):
    print(f"step {step:5d}: learning rate {3e-3 * warmup_then_decay(step):.6f}")
# --8<-- [end:optimizer]

# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float, list[int], torch.Tensor]:
    """Average (weighted) loss, macro-F1, predicted label numbers and raw scores on one split."""
    model.eval()  # switches dropout off
    all_scores, all_y = [], []
    for ids, offsets, y in loader:
        all_scores.append(model(ids, offsets))
        all_y.append(y)
    scores, y = torch.cat(all_scores), torch.cat(all_y)
    predictions = scores.argmax(dim=1)
    return loss_fn(scores, y).item(), f1_score(y, predictions, average="macro"), predictions.tolist(), scores


_, untrained_f1, _, _ = evaluate(model, valid_loader)
print(f"untrained model, valid macro-F1: {untrained_f1:.4f}")
# --8<-- [end:evaluate]

# --8<-- [start:train]
PATIENCE = 3  # stop after this many epochs without a better valid macro-F1
MAX_GRAD_NORM = 1.0
checkpoint = Path(tempfile.mkdtemp()) / "best_model.safetensors"

history = []  # one dict per epoch
best_f1, best_epoch, bad_epochs = -1.0, 0, 0
clipped, steps = 0, 0  # how often clipping shortened the gradient
for epoch in range(1, MAX_EPOCHS + 1):
    model.train()  # switches dropout on
    total_loss = 0.0
    for ids, offsets, y in tqdm(train_loader, desc=f"epoch {epoch}", leave=False):  # bar on stderr
        loss = loss_fn(model(ids, offsets), y)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)  # returns the length before
        clipped, steps = clipped + int(grad_norm > MAX_GRAD_NORM), steps + 1
        optimizer.step()
        scheduler.step()  # one scheduler step per batch, not per epoch
        total_loss += loss.item() * len(y)

    valid_loss, valid_f1, _, _ = evaluate(model, valid_loader)
    history.append({"epoch": epoch, "train_loss": total_loss / len(train_data),
                    "valid_loss": valid_loss, "valid_f1": valid_f1})
    if valid_f1 > best_f1:  # a new best model: save it, reset the patience counter
        best_f1, best_epoch, bad_epochs = valid_f1, epoch, 0
        save_file(model.state_dict(), checkpoint)
    else:
        bad_epochs += 1
        if bad_epochs >= PATIENCE:
            break

print("epoch  train loss  valid loss  valid macro-F1")
for row in history:
    print(f"{row['epoch']:5d}  {row['train_loss']:10.4f}  {row['valid_loss']:10.4f}  {row['valid_f1']:14.4f}")
epochs_trained = len(history)
lowest_loss_epoch = min(history, key=lambda row: row["valid_loss"])["epoch"]
clipped_share = clipped / steps
print(f"best epoch: {best_epoch}, valid macro-F1 {best_f1:.4f}"
      + (f"; stopped early after epoch {epoch}" if epoch < MAX_EPOCHS else ""))
print(f"lowest valid loss: epoch {lowest_loss_epoch}; gradient clipped in {clipped_share:.1%} of the {steps} steps")
assert epochs_trained < MAX_EPOCHS  # early stopping ended training before the planned maximum
assert lowest_loss_epoch < best_epoch  # the valid loss turned up before the valid macro-F1 stopped improving
assert clipped_share < 0.05  # for this small model clipping is insurance: it rarely fires
# --8<-- [end:train]

# --8<-- [start:reload]
best_model = new_model()  # a fresh model with random weights ...
best_model.load_state_dict(load_file(checkpoint))  # ... gets the saved best weights

_, reloaded_f1, _, reloaded_scores = evaluate(best_model, valid_loader)
model.load_state_dict(load_file(checkpoint))  # roll the training model back to its best epoch too
_, _, _, scores = evaluate(model, valid_loader)
assert torch.equal(reloaded_scores, scores)  # bit-for-bit the same predictions
assert reloaded_f1 == best_f1
print(f"reloaded from {checkpoint.name}: valid macro-F1 {reloaded_f1:.4f}")
# --8<-- [end:reload]

# --8<-- [start:curves]
epochs = [row["epoch"] for row in history]
fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(9, 3.2))
ax_loss.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
ax_loss.plot(epochs, [row["valid_loss"] for row in history], marker="o", label="valid")
ax_loss.set(xlabel="epoch", ylabel="loss (class-weighted)", title="Loss")
ax_loss.legend()
ax_f1.plot(epochs, [row["valid_f1"] for row in history], marker="o", color="tab:green")
ax_f1.axvline(best_epoch, linestyle="--", color="gray", label=f"best epoch ({best_epoch})")
ax_f1.set(xlabel="epoch", ylabel="macro-F1", title="Validation macro-F1")
ax_f1.legend()
fig.tight_layout()
fig.savefig("training_evaluation_curves.svg")
plt.close(fig)
# --8<-- [end:curves]

# --8<-- [start:test]
_, test_f1, test_pred, _ = evaluate(best_model, test_loader)
y_test = test_data.labels.tolist()

majority = int(train_counts.argmax())  # the most frequent label in TRAIN
baseline_f1 = f1_score(y_test, [majority] * len(y_test), average="macro", zero_division=0)
print(f"majority baseline (always '{LABELS[majority]}') test macro-F1: {baseline_f1:.4f}")
print(f"our model                                test macro-F1: {test_f1:.4f}")
assert test_f1 > baseline_f1 + 0.3  # far better than always answering the most common label
print()
print(classification_report(y_test, test_pred, target_names=LABELS, digits=3))
test_f1_per_class = f1_score(y_test, test_pred, average=None)
hardest = LABELS[test_f1_per_class.argmin()]  # the class with the lowest F1
assert hardest == "neutral"  # the rare class is the hardest
# --8<-- [end:test]

# --8<-- [start:confusion]
display = ConfusionMatrixDisplay.from_predictions(
    [LABELS[i] for i in y_test], [LABELS[i] for i in test_pred], labels=LABELS, cmap="Blues", colorbar=False
)
display.ax_.set(xlabel="predicted sentiment", ylabel="true sentiment", title="SmSA test set")
display.figure_.tight_layout()
display.figure_.savefig("training_evaluation_confusion.svg")
plt.close(display.figure_)

matrix = display.confusion_matrix  # rows: true label, columns: predicted label
errors = matrix - np.diag(np.diag(matrix))  # keep only the mistakes
true_i, pred_i = np.unravel_index(errors.argmax(), errors.shape)
most_common_error = f"{LABELS[true_i]} texts predicted as {LABELS[pred_i]}"
pos, neg = LABELS.index("positive"), LABELS.index("negative")
swapped = int(matrix[pos, neg] + matrix[neg, pos])  # the worst mistakes: the opposite sentiment
print(f"most common mistake: {most_common_error} ({errors.max()} texts)")
print(f"positive and negative swapped: {swapped} of {len(y_test)} texts")
# --8<-- [end:confusion]

# --8<-- [start:label-shift]
# Only now, after the one test score, a diagnosis: why is test lower than valid?
_, _, valid_pred, _ = evaluate(best_model, valid_loader)
valid_f1_per_class = f1_score(valid_data.labels.tolist(), valid_pred, average=None)
print("          share in train  share in test  F1 on valid  F1 on test")
for i, label in enumerate(LABELS):
    train_share, test_share = (train["label"] == label).mean(), (test["label"] == label).mean()
    print(f"{label:<9} {train_share:14.1%} {test_share:14.1%} {valid_f1_per_class[i]:12.3f} "
          f"{test_f1_per_class[i]:11.3f}")
print(f"macro-F1: valid {best_f1:.4f}, test {test_f1:.4f}")
assert (test_f1_per_class < valid_f1_per_class).all()  # every class does worse on test, not only the rare one
test_neutral_share = (test["label"] == "neutral").mean()
train_neutral_share = (train["label"] == "neutral").mean()
# --8<-- [end:label-shift]

# --8<-- [start:timing]
timing_model = new_model()  # a throw-away model: timing must not change the trained one
timing_optimizer = torch.optim.AdamW(timing_model.parameters(), lr=3e-3, weight_decay=0.01)
seconds = Counter()  # part of the loop -> seconds spent in it during one epoch

timing_model.train()
t_start = time.perf_counter()
for ids, offsets, y in train_loader:
    t0 = time.perf_counter()  # t0 - t_start: waiting for the DataLoader to hand over a batch
    loss = loss_fn(timing_model(ids, offsets), y)
    t1 = time.perf_counter()
    timing_optimizer.zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    nn.utils.clip_grad_norm_(timing_model.parameters(), MAX_GRAD_NORM)
    t3 = time.perf_counter()
    timing_optimizer.step()
    t4 = time.perf_counter()
    seconds["data loading + collate"] += t0 - t_start
    seconds["forward + loss"] += t1 - t0
    seconds["backward"] += t2 - t1
    seconds["gradient clipping"] += t3 - t2
    seconds["optimizer step"] += t4 - t3
    t_start = time.perf_counter()
t5 = time.perf_counter()
evaluate(timing_model, valid_loader)
seconds["validation"] = time.perf_counter() - t5

total = sum(seconds.values())
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(list(seconds), [100 * s / total for s in seconds.values()], color="tab:blue")
ax.invert_yaxis()  # first part at the top
ax.set(xlabel="share of one epoch (%)", title="Where the time of one training epoch goes")
fig.tight_layout()
fig.savefig("training_evaluation_time.svg")
plt.close(fig)

# No seconds are printed (they change on every run), only a conclusion with a wide margin:
assert seconds["optimizer step"] > seconds["forward + loss"] + seconds["backward"]
print("the optimizer step takes longer than forward and backward together")
# --8<-- [end:timing]
