# tutorial-test: timeout=180
# Solutions to the exercises of docs/beginner/training-evaluation.md. To stay fast, each experiment trains on
# 3,000 of the 11,000 training texts for at most a few epochs, and compares runs on the VALID split only.

# --8<-- [start:exercise-1]
import re
from collections import Counter

import torch
from sklearn.metrics import f1_score, recall_score
from torch import nn
from torch.utils.data import DataLoader

from dlnlp.data import labels, load

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

LABELS = labels("smsa")
train = load("smsa", "train").sample(n=3000, random_state=0)  # a random subset, to keep this quick
valid = load("smsa", "valid")

counts = Counter(token for text in train["text"] for token in re.findall(r"\w+|[^\w\s]", text.lower()))
vocab = {"<unk>": 0} | {token: i + 1 for i, token in enumerate(t for t, c in counts.items() if c >= 2)}


def examples(frame) -> list[tuple[torch.Tensor, int]]:
    ids = [[vocab.get(t, 0) for t in re.findall(r"\w+|[^\w\s]", text.lower())] for text in frame["text"]]
    return [(torch.tensor(i), LABELS.index(label)) for i, label in zip(ids, frame["label"])]


def collate(batch):
    ids = [item[0] for item in batch]
    offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(dim=0)
    return torch.cat(ids), offsets, torch.tensor([item[1] for item in batch])


train_examples, valid_examples = examples(train), examples(valid)
valid_loader = DataLoader(valid_examples, batch_size=256, collate_fn=collate)
y_valid = [label for _, label in valid_examples]


def run(weight_decay=0.01, patience=3, class_weights=True, max_epochs=6, lr=3e-3) -> dict:
    """The page's training loop as one function: returns the valid macro-F1 per epoch and the best epoch."""
    torch.manual_seed(0)  # every run starts from the same weights and sees the same batches
    model = nn.ModuleDict({  # the page's model, as two named parts
        "embed": nn.EmbeddingBag(len(vocab), 64, mode="mean"),
        "mlp": nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, len(LABELS))),
    })
    counts = torch.bincount(torch.tensor([label for _, label in train_examples]), minlength=len(LABELS))
    weight = len(train_examples) / (len(LABELS) * counts.float()) if class_weights else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    loader = DataLoader(train_examples, batch_size=64, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total, warmup = max_epochs * len(loader), 20
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / (total - warmup)))

    def predict() -> list[int]:
        model.eval()
        with torch.no_grad():
            return [p for ids, off, _ in valid_loader for p in model["mlp"](model["embed"](ids, off)).argmax(1).tolist()]

    f1s, best_predictions, bad_epochs = [], None, 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        for ids, offsets, y in loader:
            loss = loss_fn(model["mlp"](model["embed"](ids, offsets)), y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
        predictions = predict()
        f1s.append(f1_score(y_valid, predictions, average="macro"))
        if len(f1s) == 1 or f1s[-1] > max(f1s[:-1]):  # better than every earlier epoch
            best_predictions, bad_epochs = predictions, 0
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                break
    best = max(range(len(f1s)), key=f1s.__getitem__)
    return {"f1s": f1s, "best_epoch": best + 1, "best_f1": f1s[best], "predictions": best_predictions}


results = {wd: run(weight_decay=wd) for wd in (0.0, 0.01, 1.0, 10.0)}
print("weight decay  best valid macro-F1")
for wd, result in results.items():
    print(f"{wd:12.2f}  {result['best_f1']:19.4f}")
# Far too much decay pulls every weight towards 0 faster than the data can push it away:
assert results[10.0]["best_f1"] < results[0.0]["best_f1"] - 0.1
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
runs = {patience: run(patience=patience, lr=1e-2, max_epochs=12) for patience in (1, 3, 5)}
for patience, result in runs.items():
    print(f"patience {patience}: trained {len(result['f1s']):2d} epochs, best epoch {result['best_epoch']}, "
          f"valid macro-F1 {result['best_f1']:.4f}")
print("valid macro-F1 per epoch:", " ".join(f"{f1:.3f}" for f1 in runs[5]["f1s"]))
# Same seed, same batches: a more patient run repeats the shorter one, then keeps going.
assert len(runs[1]["f1s"]) <= len(runs[3]["f1s"]) <= len(runs[5]["f1s"])
assert runs[1]["best_f1"] <= runs[3]["best_f1"] <= runs[5]["best_f1"]
extra_epochs_paid_off = runs[5]["best_f1"] > runs[1]["best_f1"]
print("patience 5 found a better model than patience 1:", extra_epochs_paid_off)
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
weighted, unweighted = run(class_weights=True), run(class_weights=False)
neutral = LABELS.index("neutral")
print("                  valid macro-F1  neutral recall  neutral predictions")
for name, result in (("class weights", weighted), ("no class weights", unweighted)):
    result["neutral_recall"] = recall_score(y_valid, result["predictions"], labels=[neutral], average="macro")
    print(f"{name:<17} {result['best_f1']:14.4f}  {result['neutral_recall']:14.3f}"
          f"  {result['predictions'].count(neutral):19d}")
# Without weights the model rarely dares to answer the rare class "neutral":
assert unweighted["predictions"].count(neutral) < weighted["predictions"].count(neutral)
weighted_recall, unweighted_recall = weighted["neutral_recall"], unweighted["neutral_recall"]
weighted_f1, unweighted_f1 = weighted["best_f1"], unweighted["best_f1"]
assert weighted_recall > unweighted_recall  # the weights find more of the rare class ...
assert abs(weighted_f1 - unweighted_f1) < 0.02  # ... at about the same valid macro-F1
# --8<-- [end:exercise-3]
