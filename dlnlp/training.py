"""The training loop of the beginner track, packaged: early stopping on validation macro-F1, best weights kept.

A model takes `(ids, lengths)` from `dlnlp.text.make_loader` batches and returns logits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from tqdm import tqdm


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    valid_f1: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch whose weights the model ends with

    @property
    def best_f1(self) -> float:
        return self.valid_f1[self.best_epoch - 1]


@torch.no_grad()
def predict_proba(model: nn.Module, loader) -> np.ndarray:
    """Class probabilities for every example, in loader order (the loader must not shuffle)."""
    model.eval()
    return torch.cat([model(ids, lengths).softmax(-1) for ids, lengths, _ in loader]).numpy()


def macro_f1(model: nn.Module, loader) -> float:
    gold = torch.cat([y for _, _, y in loader]).numpy()
    return f1_score(gold, predict_proba(model, loader).argmax(1), average="macro")


def class_weights(labels: list[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights from the TRAINING labels, so rare classes count as much as common ones."""
    counts = torch.bincount(torch.tensor(labels), minlength=n_classes).float()
    return counts.sum() / (n_classes * counts)


def fit(model: nn.Module, train_loader, valid_loader, epochs: int, lr: float = 1e-3, weight_decay: float = 0.0,
        weights: torch.Tensor | None = None, patience: int = 3, clip: float = 1.0, label_smoothing: float = 0.0,
        desc: str = "training") -> History:
    """Train with AdamW (SparseAdam for sparse embeddings) and a linear decay; keep the weights of the epoch with
    the best validation macro-F1."""
    # Embeddings built with sparse=True get a gradient only for the rows a batch used; SparseAdam updates just
    # those rows, which keeps a large hashed table (the bag of embeddings) fast. Everything else: AdamW.
    sparse = [m.weight for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse]
    dense = [p for p in model.parameters() if all(p is not s for s in sparse)]
    optimizers = [torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay)]
    if sparse:
        optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
    total = epochs * len(train_loader)
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda step: 1 - step / total) for o in optimizers]
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
    history, best = History(), None
    for epoch in tqdm(range(1, epochs + 1), desc=desc, leave=False):
        model.train()
        losses = []
        for ids, lengths, y in train_loader:
            model.zero_grad()
            loss = loss_fn(model(ids, lengths), y)
            loss.backward()
            nn.utils.clip_grad_norm_(dense, clip)  # clipping a sparse gradient is not implemented in PyTorch
            for optimizer, schedule in zip(optimizers, schedules):
                optimizer.step()
                schedule.step()
            losses.append(loss.item())
        history.train_loss.append(float(np.mean(losses)))
        history.valid_f1.append(macro_f1(model, valid_loader))
        if best is None or history.valid_f1[-1] > history.best_f1:
            history.best_epoch, best = epoch, copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= patience:
            break  # early stopping: validation macro-F1 has not improved for `patience` epochs
    model.load_state_dict(best)
    return history
