# tutorial-test: timeout=120
# --8<-- [start:setup]
import copy
import math
import re
import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import ConfusionMatrixDisplay, classification_report, f1_score
from torch import nn
from tqdm import trange

from dlnlp.data import labels, load  # this site's loader: checks each data file's SHA-256

torch.manual_seed(0)  # the same random numbers on every run, so you see the same results as this page
torch.set_num_threads(1)  # one CPU thread: fast for a model this small, and steady on a busy machine
# --8<-- [end:setup]

# --8<-- [start:load-data]
train = load("emot", "train")
valid = load("emot", "valid")
test = load("emot", "test")
LABELS = labels("emot")

print("labels:", LABELS)
print(f"train: {len(train)} tweets, valid: {len(valid)}, test: {len(test)}")
assert list(train.columns) == ["text", "label"]
# --8<-- [end:load-data]

# --8<-- [start:look]
for text, label in train.groupby("label").head(1).values:
    print(f"{label:>8} | {textwrap.shorten(text, width=70, placeholder=' ...')}")

print()
print(train["label"].value_counts().to_string())
# --8<-- [end:look]

# --8<-- [start:tokenize]
def tokenize(text: str) -> list[str]:
    """Lowercase, then cut into words (runs of letters and digits) and single punctuation marks."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


print(tokenize("Aku menangis karena kucingku sakit"))
print(tokenize("Aku menang jackpot!"))
# --8<-- [end:tokenize]

# --8<-- [start:vocab]
MIN_COUNT = 2  # a word must appear at least twice in the training tweets to get its own number

counts = Counter(token for text in train["text"] for token in tokenize(text))
vocab = {"<unk>": 0}  # number 0 stands for every word the model has never seen
for token, count in counts.most_common():
    if count >= MIN_COUNT:
        vocab[token] = len(vocab)


def encode(text: str) -> list[int]:
    return [vocab.get(token, vocab["<unk>"]) for token in tokenize(text)]


valid_ids = [i for text in valid["text"] for i in encode(text)]
unknown_share = valid_ids.count(0) / len(valid_ids)  # how many valid tokens became <unk>
print(f"{len(counts)} different tokens in train, {len(vocab)} in the vocabulary")
print(f"unknown tokens in valid: {unknown_share:.1%}")
print(encode("Aku menangis karena kucingku sakit"))
assert encode("Aku menangis karena kucingku sakit") == encode("aku MENANGIS karena kucingku sakit")
# --8<-- [end:vocab]

# --8<-- [start:model]
class EmotionClassifier(nn.Module):
    def __init__(self, vocab_size: int, dim: int, num_classes: int):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean")  # tweet -> average of its word vectors
        self.out = nn.Linear(dim, num_classes)  # average vector -> one score per emotion

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(ids, offsets))


def make_batch(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """All token ids of the texts in one long tensor, plus where each text starts in it."""
    encoded = [encode(text) for text in texts]
    ids = torch.tensor([i for e in encoded for i in e])
    offsets = torch.tensor([0] + [len(e) for e in encoded[:-1]]).cumsum(dim=0)
    return ids, offsets


model = EmotionClassifier(len(vocab), dim=64, num_classes=len(LABELS))
print(model)
n_parameters = sum(p.numel() for p in model.parameters())
print("parameters:", n_parameters)
assert model.embed.weight.numel() > 0.99 * n_parameters  # almost all of them are word vectors

scores = model(*make_batch(["Aku menangis karena kucingku sakit", "Aku menang jackpot!"]))
print("scores:", scores.shape)
assert scores.shape == (2, len(LABELS))  # 2 sentences, 5 scores each
# --8<-- [end:model]

# --8<-- [start:loss]
loss_fn = nn.CrossEntropyLoss()
y_train = torch.tensor([LABELS.index(label) for label in train["label"]])

with torch.no_grad():
    first_loss = loss_fn(model(*make_batch(list(train["text"]))), y_train).item()
print(f"loss before training: {first_loss:.3f}   (ln 5 = {math.log(5):.3f})")
assert abs(first_loss - math.log(5)) < 0.1  # an untrained model guesses ~1/5 for each emotion
# --8<-- [end:loss]

# --8<-- [start:train]
EPOCHS = 10
BATCH_SIZE = 32
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)


def predict(texts: list[str]) -> list[str]:
    model.eval()
    with torch.no_grad():
        best = model(*make_batch(texts)).argmax(dim=1)
    return [LABELS[i] for i in best]


history = []
for epoch in trange(1, EPOCHS + 1, desc="epochs"):  # the progress bar goes to stderr
    model.train()
    order = torch.randperm(len(train))  # a new random order of the tweets every epoch
    total_loss = 0.0
    for start in range(0, len(train), BATCH_SIZE):
        rows = order[start : start + BATCH_SIZE]
        scores = model(*make_batch([train["text"][int(r)] for r in rows]))  # 1. forward
        loss = loss_fn(scores, y_train[rows])  # 2. loss
        optimizer.zero_grad()
        loss.backward()  # 3. backward: autograd computes every gradient
        optimizer.step()  # 4. nudge every parameter against its gradient
        total_loss += loss.item() * len(rows)
    valid_f1 = f1_score(valid["label"], predict(list(valid["text"])), average="macro")
    history.append((epoch, total_loss / len(train), valid_f1))
    if valid_f1 == max(f1 for _, _, f1 in history):
        best_state = copy.deepcopy(model.state_dict())  # remember the best model so far

print("epoch  train loss  valid macro-F1")
for epoch, train_loss, valid_f1 in history:
    print(f"{epoch:5d}  {train_loss:10.4f}  {valid_f1:14.4f}")
best_epoch, _, best_valid_f1 = max(history, key=lambda row: row[2])
print(f"best epoch: {best_epoch} (valid macro-F1 {best_valid_f1:.4f})")
model.load_state_dict(best_state)
# --8<-- [end:train]

# --8<-- [start:curves]
epochs = [row[0] for row in history]
fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(8, 3))
ax_loss.plot(epochs, [row[1] for row in history], marker="o")
ax_loss.set(xlabel="epoch", ylabel="train loss", title="Loss goes down")
ax_f1.plot(epochs, [row[2] for row in history], marker="o", color="tab:orange")
ax_f1.axvline(best_epoch, linestyle="--", color="gray")
ax_f1.set(xlabel="epoch", ylabel="valid macro-F1", title="Validation picks the epoch")
fig.tight_layout()
fig.savefig("hello_world_training.svg")
plt.close(fig)
# --8<-- [end:curves]

# --8<-- [start:evaluate]
test_pred = predict(list(test["text"]))
model_f1 = f1_score(test["label"], test_pred, average="macro")

majority = train["label"].value_counts().idxmax()  # the most frequent emotion in train
baseline_pred = [majority] * len(test)
baseline_f1 = f1_score(test["label"], baseline_pred, average="macro", zero_division=0)

print(f"majority class ({majority}) macro-F1: {baseline_f1:.4f}")
print(f"our model test macro-F1:         {model_f1:.4f}")
assert model_f1 > baseline_f1 + 0.4  # the model beats always guessing the most common emotion by far
print()
print(classification_report(test["label"], test_pred, digits=3))
# --8<-- [end:evaluate]

# --8<-- [start:confusion]
display = ConfusionMatrixDisplay.from_predictions(test["label"], test_pred, labels=LABELS, cmap="Blues", colorbar=False)
display.ax_.set(xlabel="predicted emotion", ylabel="true emotion", title="EmoT test set")
display.figure_.tight_layout()
display.figure_.savefig("hello_world_confusion.svg")
plt.close(display.figure_)

matrix = display.confusion_matrix  # rows: true emotion, columns: predicted emotion
mixups = matrix + matrix.T  # tweets of i predicted as j, plus tweets of j predicted as i
np.fill_diagonal(mixups, 0)  # the diagonal holds the correct answers, not mix-ups
i, j = np.unravel_index(mixups.argmax(), mixups.shape)
most_confused = f"{LABELS[i]} and {LABELS[j]}"
print(f"most confused pair: {most_confused} ({mixups[i, j]} of {len(test)} test tweets)")
# --8<-- [end:confusion]

# --8<-- [start:predict]
sentences = [
    "Aku menangis karena kucingku sakit",  # I cry because my cat is sick
    "Aku menang jackpot!",  # I won a jackpot!
    "Aku sayang banget sama kamu",  # I love you so much
    "Aku takut sendirian di rumah malam ini",  # I am scared to be home alone tonight
]
model.eval()
with torch.no_grad():
    probabilities = model(*make_batch(sentences)).softmax(dim=1)
for sentence, p in zip(sentences, probabilities):
    print(f"{sentence:40} -> {LABELS[p.argmax()]:8} ({p.max():.2f})")
# --8<-- [end:predict]
