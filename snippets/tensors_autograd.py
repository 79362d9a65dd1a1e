# tutorial-test: timeout=60
# --8<-- [start:setup]
import math
import re

import matplotlib.pyplot as plt
import torch
from dlnlp.data import load

torch.manual_seed(0)  # the same random numbers on every run, so you see the same results as this page
# --8<-- [end:setup]

# --8<-- [start:create]
scores = torch.tensor([[0.1, 0.7, 0.2],
                       [0.5, 0.3, 0.2]])  # from a nested Python list: 2 rows, 3 columns
zeros = torch.zeros(2, 3)  # filled with 0.0
steps = torch.arange(5)  # 0, 1, 2, 3, 4
noise = torch.randn(2, 3)  # random numbers from a normal distribution (seeded above)

print(scores)
print("shape:", scores.shape, " dimensions:", scores.ndim, " elements:", scores.numel())
print(zeros)
print(steps)
print(noise.round(decimals=3))
# --8<-- [end:create]

# --8<-- [start:dtypes]
features = torch.tensor([1.0, 0.0, 2.0])  # measurements, weights, probabilities: floating point
token_ids = torch.tensor([17, 4, 256])  # numbers that NAME something (words in a vocabulary): integers

print("features: ", features.dtype)
print("token ids:", token_ids.dtype)
print("as float: ", token_ids.float(), token_ids.float().dtype)
print("mixed:    ", (features + token_ids).dtype)  # int64 + float32 -> float32
assert features.dtype == torch.float32 and token_ids.dtype == torch.int64
# --8<-- [end:dtypes]

# --8<-- [start:indexing]
x = torch.arange(12).reshape(3, 4)  # 3 rows, 4 columns: 0 .. 11
print(x)
print("row 0:        ", x[0])
print("column 1:     ", x[:, 1])
print("element (2,3):", x[2, 3].item())  # .item() turns a one-element tensor into a Python number
print("last 2 cols:\n", x[:, -2:])
print("even numbers: ", x[x % 2 == 0])  # a boolean mask picks the elements where it is True
# --8<-- [end:indexing]

# --8<-- [start:reshape]
print("reshape(4, 3):\n", x.reshape(4, 3))  # same 12 numbers, read row by row into a new shape
print("reshape(2, -1):", x.reshape(2, -1).shape)  # -1: "work this size out for me"
print("flatten():     ", x.flatten())
print("transpose .T:  ", x.T.shape)  # rows become columns
print("unsqueeze(0):  ", x.unsqueeze(0).shape)  # a new dimension of size 1, e.g. a batch of one
assert x.reshape(4, 3).numel() == x.numel()  # reshaping never adds or removes numbers
# --8<-- [end:reshape]

# --8<-- [start:broadcasting]
column = torch.tensor([[0.0], [10.0], [20.0]])  # shape (3, 1)
row = torch.tensor([1.0, 2.0, 3.0, 4.0])  # shape (4,), treated as (1, 4)
table = column + row  # both are stretched to (3, 4); the stretching itself copies no data
print(table)
assert table.shape == (3, 4)

# A practical use: subtract each column's mean from a (3, 4) table in one line.
centered = table - table.mean(dim=0)  # (3, 4) - (4,) -> (3, 4)
print("column means after centering:", centered.mean(dim=0))
assert torch.allclose(centered.mean(dim=0), torch.zeros(4))
# --8<-- [end:broadcasting]

# --8<-- [start:matmul]
A = torch.randn(2, 3)
B = torch.randn(3, 4)
C = A @ B  # (2, 3) @ (3, 4) -> (2, 4): the inner sizes must agree
print("C:", C.shape)
assert C.shape == (2, 4)

# Each entry is a dot product of a row of A with a column of B:
print(f"C[1, 2] = {C[1, 2].item():.4f} = {(A[1] * B[:, 2]).sum().item():.4f}")
assert torch.allclose(C[1, 2], (A[1] * B[:, 2]).sum())

vector = torch.randn(3)
print("A @ vector:", (A @ vector).shape)  # (2, 3) @ (3,) -> (2,)
# --8<-- [end:matmul]

# --8<-- [start:device]
print("table lives on:", table.device)
table = table.to("cpu")  # .to(device) returns the tensor on that device (here: already there)
assert table.device.type == "cpu"
# --8<-- [end:device]

# --8<-- [start:sentences]
sentences = [
    ("a good film", 1),
    ("good and fun", 1),
    ("filmnya bagus", 1),  # "the film is good"
    ("bagus dan seru", 1),  # "good and fun"
    ("a bad film", 0),
    ("bad and boring", 0),
    ("filmnya jelek", 0),  # "the film is bad"
    ("jelek dan membosankan", 0),  # "bad and boring"
]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())  # lowercase runs of letters and digits


vocab = sorted({word for text, _ in sentences for word in words(text)})
word_index = {word: i for i, word in enumerate(vocab)}  # word -> its column in X
print(len(vocab), "words:", vocab)


def featurize(text: str) -> torch.Tensor:
    """Bag of words: how often each vocabulary word occurs (unknown words are skipped)."""
    counts = torch.zeros(len(vocab))
    for word in words(text):
        if word in word_index:
            counts[word_index[word]] += 1
    return counts


X = torch.stack([featurize(text) for text, _ in sentences])  # (8 sentences, 13 words)
y = torch.tensor([label for _, label in sentences], dtype=torch.float32)  # (8,): 1 positive, 0 negative
n, num_words = X.shape
print("X:", X.shape, X.dtype, " y:", y.shape, y.dtype)
print("'good and fun' ->", X[1].int().tolist())
assert X.shape == (len(sentences), len(vocab)) and X.sum() == 22  # 22 words in the 8 sentences
# --8<-- [end:sentences]

# --8<-- [start:forward]
def forward(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Logistic regression: one score per sentence, squashed into a probability of 'positive'."""
    return torch.sigmoid(X @ w + b)  # (n, V) @ (V,) + () -> (n,)


w = torch.zeros(num_words)  # one weight per word; a model that knows nothing yet
b = torch.zeros(())  # one bias, a tensor with shape () (a scalar)
p = forward(X, w, b)
print("p:", p)
assert p.shape == (n,)
# --8<-- [end:forward]

# --8<-- [start:loss]
def bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: the average of -log(probability the model gave to the right answer)."""
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


loss = bce(p, y)
print(f"loss: {loss.item():.4f}   ln 2 = {math.log(2):.4f}")
assert torch.isclose(loss, torch.tensor(math.log(2)))  # p = 0.5 everywhere gives exactly ln 2
assert torch.isclose(loss, torch.nn.functional.binary_cross_entropy(p, y))  # PyTorch's own version agrees
# --8<-- [end:loss]

# --8<-- [start:backward-by-hand]
grad_w = X.T @ (p - y) / n  # (V, n) @ (n,) -> (V,): one number per weight
grad_b = (p - y).mean()
for word, g in zip(vocab, grad_w):
    print(f"{word:12} {g.item():+.4f}")
print(f"{'(bias)':12} {grad_b.item():+.4f}")
# --8<-- [end:backward-by-hand]

# --8<-- [start:autograd]
w = torch.zeros(num_words, requires_grad=True)  # "track every operation done with me"
b = torch.zeros((), requires_grad=True)

loss = bce(forward(X, w, b), y)  # the same forward and loss as before...
loss.backward()  # ...and autograd walks back through them, filling in .grad

print("autograd w.grad[:4]:", w.grad[:4])
print("by hand  grad_w[:4]:", grad_w[:4])
print(f"autograd b.grad: {b.grad.item():+.4f}   by hand: {grad_b.item():+.4f}")
assert torch.allclose(w.grad, grad_w) and torch.allclose(b.grad, grad_b)  # autograd equals our derivation
# --8<-- [end:autograd]

# --8<-- [start:gradcheck]
w64 = torch.randn(num_words, dtype=torch.float64, requires_grad=True)  # a random point, not just zeros
b64 = torch.randn((), dtype=torch.float64, requires_grad=True)
ok = torch.autograd.gradcheck(lambda w, b: bce(forward(X.double(), w, b), y.double()), (w64, b64))
print("gradcheck passed:", ok)
assert ok
# --8<-- [end:gradcheck]

# --8<-- [start:gradient-descent]
LEARNING_RATE = 0.5
STEPS = 100

w = torch.zeros(num_words, requires_grad=True)
b = torch.zeros((), requires_grad=True)
manual_losses = []
for step in range(STEPS):
    loss = bce(forward(X, w, b), y)  # 1. forward and 2. loss
    loss.backward()  # 3. backward: fills w.grad and b.grad
    with torch.no_grad():  # the update itself must not be tracked by autograd
        w -= LEARNING_RATE * w.grad  # 4. a small step against the gradient
        b -= LEARNING_RATE * b.grad
    w.grad.zero_()  # .grad adds up over backward() calls: reset it for the next step
    b.grad.zero_()
    manual_losses.append(loss.item())
    if step % 20 == 0 or step == STEPS - 1:
        print(f"step {step:3d}  loss {loss.item():.4f}")
# --8<-- [end:gradient-descent]

# --8<-- [start:optimizer]
w_sgd = torch.zeros(num_words, requires_grad=True)
b_sgd = torch.zeros((), requires_grad=True)
optimizer = torch.optim.SGD([w_sgd, b_sgd], lr=LEARNING_RATE)
sgd_losses = []
for step in range(STEPS):
    loss = bce(forward(X, w_sgd, b_sgd), y)
    optimizer.zero_grad()  # replaces the two .grad.zero_() lines
    loss.backward()
    optimizer.step()  # replaces the update inside torch.no_grad()
    sgd_losses.append(loss.item())

print(f"SGD final loss {sgd_losses[-1]:.4f}, hand-written loop final loss {manual_losses[-1]:.4f}")
assert torch.allclose(w_sgd, w) and torch.allclose(b_sgd, b)  # same steps, same parameters
# --8<-- [end:optimizer]

# --8<-- [start:plot]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(manual_losses)
ax.axhline(math.log(2), linestyle="--", color="gray", label="ln 2 (guessing 50%)")
ax.set(xlabel="step", ylabel="training loss", title="Gradient descent on 8 sentences")
ax.legend()
fig.tight_layout()
fig.savefig("tensors_autograd_loss.svg")
plt.close(fig)
# --8<-- [end:plot]

# --8<-- [start:check]
with torch.no_grad():
    p = forward(X, w, b)
for (text, label), prob in zip(sentences, p):
    print(f"{text:22} label {label}  p(positive) = {prob.item():.3f}")
assert manual_losses[-1] < 0.2 * manual_losses[0]  # the loss went well below where it started
assert torch.equal((p > 0.5).float(), y)  # every training sentence is on the right side of 0.5
# --8<-- [end:check]

# --8<-- [start:weights]
for word, weight in zip(vocab, w.detach()):  # .detach(): the same numbers, without autograd tracking
    print(f"{word:12} {weight.item():+.3f}")
print(f"{'(bias)':12} {b.item():+.3f}")
assert w[word_index["good"]] > 0 and w[word_index["jelek"]] < 0
# --8<-- [end:weights]

# --8<-- [start:predict]
new_sentences = ["the film is fun", "film yang membosankan", "bagus"]
with torch.no_grad():
    p_new = forward(torch.stack([featurize(text) for text in new_sentences]), w, b)
for text, prob in zip(new_sentences, p_new):
    print(f"{text:22} p(positive) = {prob.item():.3f} -> {'positive' if prob > 0.5 else 'negative'}")
assert p_new[0] > 0.5 and p_new[1] < 0.5
# --8<-- [end:predict]

# --8<-- [start:real-data]
texts, is_positive = [], []
for name in ["nusax_en", "nusax_id"]:  # the same 400 test reviews, in English and in Indonesian
    test = load(name, "test")
    test = test[test["label"] != "neutral"]  # our model knows only positive and negative
    texts += list(test["text"])
    is_positive += list(test["label"] == "positive")

X_test = torch.stack([featurize(text) for text in texts])
y_test = torch.tensor(is_positive, dtype=torch.float32)
with torch.no_grad():
    p_test = forward(X_test, w, b)
has_opinion = (p_test - 0.5).abs() > 0.01  # its words have learned weights (that do not cancel out)
correct = (p_test > 0.5).float() == y_test
n_reviews = len(texts)
opinion_share = has_opinion.float().mean().item()
opinion_accuracy = correct[has_opinion].float().mean().item()
print(f"{n_reviews} positive or negative NusaX test reviews")
print(f"the model has an opinion on {has_opinion.sum().item()} of them ({opinion_share:.1%})")
print(f"and is right on {opinion_accuracy:.1%} of those")
assert opinion_share < 0.2  # 13 words cover very few real reviews
assert opinion_accuracy > 0.6  # but the 8 sentiment words it learned do carry signal
# --8<-- [end:real-data]
