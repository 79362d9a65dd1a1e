# tutorial-test: timeout=300
# Solutions to the exercises of docs/advanced/pretrained-indonesian.md. Both use NusaX Indonesian's train and
# valid splits only (the test split is not touched) and the frozen sentence vectors of dlnlp.encoder.

# --8<-- [start:exercise-1]
import os

os.environ["HF_HUB_OFFLINE"] = "1"
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from dlnlp import encoder
from dlnlp.data import labels, load

torch.manual_seed(0)
torch.set_num_threads(1)
names = labels("nusax_id")
train, valid = load("nusax_id", "train"), load("nusax_id", "valid")
y_train = np.array([names.index(label) for label in train["label"]])
y_valid = np.array([names.index(label) for label in valid["label"]])

prefix_f1 = {}
for prefix in ("query: ", "passage: ", ""):  # E5 was trained with the first two; "" is no prefix at all
    e_train = encoder.embed(train["text"].tolist(), prefix=prefix)
    e_valid = encoder.embed(valid["text"].tolist(), prefix=prefix)
    prefix_f1[prefix] = max(  # the best C of a small grid, chosen on valid as on the page
        f1_score(y_valid, LogisticRegression(C=C, max_iter=3000).fit(e_train, y_train).predict(e_valid),
                 average="macro") for C in (0.3, 1.0, 3.0, 10.0, 30.0))
    print(f"prefix {prefix!r:<12} valid macro-F1 {prefix_f1[prefix]:.3f}")
query_f1, passage_f1, bare_f1 = prefix_f1["query: "], prefix_f1["passage: "], prefix_f1[""]
prefix_spread = max(prefix_f1.values()) - min(prefix_f1.values())
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
x_train = torch.tensor(encoder.embed(train["text"].tolist()))  # "query: " vectors, as on the page (cached)
x_valid = torch.tensor(encoder.embed(valid["text"].tolist()))
head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(384, len(names)))
optimizer = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-3)
history = []
for epoch in range(1, 101):  # full-batch: 500 vectors of 384 numbers are one small matrix
    head.train()
    loss = torch.nn.functional.cross_entropy(head(x_train * 10), torch.tensor(y_train))  # x10: see the text
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    if epoch % 20 == 0:
        head.eval()
        with torch.no_grad():
            history.append(f1_score(y_valid, head(x_valid * 10).argmax(-1).numpy(), average="macro"))
        print(f"epoch {epoch:>3}: loss {loss.item():.3f}  valid macro-F1 {history[-1]:.3f}")
torch_head_f1 = max(history)
assert torch_head_f1 > 0.6  # a linear layer trained by hand does about what logistic regression does
# --8<-- [end:exercise-2]
