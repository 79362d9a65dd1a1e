# tutorial-test: timeout=60
# Solutions to the exercises of docs/beginner/tensors-autograd.md. Each section runs on its own data.

# --8<-- [start:exercise-1]
import torch

torch.manual_seed(0)

# Mean squared error of a linear model: L = mean((X w - t)^2).
# By hand: dL/dw = 2 X^T (X w - t) / n.
X = torch.randn(5, 3)
t = torch.randn(5)
w = torch.randn(3, requires_grad=True)

loss = ((X @ w - t) ** 2).mean()
loss.backward()
grad_by_hand = 2 * X.T @ (X @ w.detach() - t) / len(t)

print("autograd:", w.grad)
print("by hand: ", grad_by_hand)
assert torch.allclose(w.grad, grad_by_hand)
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
import torch

# Any bag-of-words-like data will do: 6 "sentences", 4 "words", labels 0 or 1.
X = torch.randint(0, 3, (6, 4)).float()
y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
w = torch.randn(4, requires_grad=True)
b = torch.zeros((), requires_grad=True)
LAMBDA = 0.1

p = torch.sigmoid(X @ w + b)
bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
loss = bce + LAMBDA / 2 * (w**2).sum()  # the bias is usually not regularized
loss.backward()

with torch.no_grad():
    grad_w = X.T @ (p - y) / len(y) + LAMBDA * w  # the L2 term adds LAMBDA * w
    grad_b = (p - y).mean()  # unchanged: the penalty does not involve b

print("autograd w.grad:", w.grad)
print("by hand:        ", grad_w)
assert torch.allclose(w.grad, grad_w) and torch.allclose(b.grad, grad_b)
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
import torch

y = torch.tensor([1.0, 0.0, 1.0, 0.0])  # shape (4,)
p = torch.tensor([[0.9], [0.2], [0.7], [0.4]])  # shape (4, 1), e.g. from X @ W with W of shape (V, 1)

difference = p - y  # (4, 1) - (4,) -> (4, 1) - (1, 4) -> (4, 4)!
n_terms = difference.numel()  # every p minus every y, instead of 4 differences
print("p - y has shape", difference.shape, f"({n_terms} numbers)")
assert difference.shape == (4, 4)

fixed = p.squeeze(1) - y  # (4,) - (4,) -> (4,)
print("p.squeeze(1) - y:", fixed)
assert fixed.shape == (4,)


def bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


print(f"loss with the shape bug: {bce(p, y).item():.4f}")  # silently averages n_terms terms, most of them wrong
print(f"loss after the fix:      {bce(p.squeeze(1), y).item():.4f}")
assert not torch.isclose(bce(p, y), bce(p.squeeze(1), y))

try:  # PyTorch's own loss checks the shapes
    torch.nn.functional.binary_cross_entropy(p, y)
    refused = False
except ValueError:
    refused = True
print("torch.nn.functional.binary_cross_entropy refuses the shapes (4, 1) and (4,):", refused)
assert refused
# --8<-- [end:exercise-3]
