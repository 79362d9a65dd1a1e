"""One experiment of the model zoo: train a model on a dataset's published train split, select on valid,
score once on test. The zoo pages call `run` with their own model; the benchmark (benchmarks/zoo.py) runs the
same pages at full size (`DLNLP_FULL=1`) and collects what `save_results` writes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from dlnlp.data import labels, load
from dlnlp.text import Vocab, make_loader
from dlnlp.training import class_weights, fit, predict_proba

FULL = os.environ.get("DLNLP_FULL") == "1"  # set by the benchmark: full data and epochs instead of the quick run
SEEDS = (0, 1, 2)  # fixed before the benchmark's run: at full size every model is trained once with each seed


@dataclass
class Settings:
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.0
    balanced: bool = True  # class-weighted loss (inverse training frequency)
    patience: int = 3
    max_len: int = 128
    label_smoothing: float = 0.0
    train_limit: int | None = None  # use a random sample (seeded) of N training examples (quick runs)


@dataclass
class Result:
    model: str
    dataset: str
    valid_f1: float
    test_f1: float
    test_accuracy: float
    best_epoch: int
    seconds: float
    parameters: int
    seed: int = 0  # the seed of the first weights and the batch order
    valid_proba: list = field(repr=False, default_factory=list)
    test_proba: list = field(repr=False, default_factory=list)

    def __str__(self) -> str:
        return (f"{self.dataset:<9} valid macro-F1 {self.valid_f1:.3f}  test macro-F1 {self.test_f1:.3f}"
                f"  accuracy {self.test_accuracy:.3f}  (best epoch {self.best_epoch}, {self.parameters:,} parameters"
                + (f", seed {self.seed})" if self.seed else ")"))


def word_encoder(train_texts: list[str]) -> tuple[Callable[[str], list[int]], int]:
    """The default encoder: word ids from a vocabulary built on the training texts."""
    vocab = Vocab(train_texts, min_freq=2)
    return vocab.encode, len(vocab)


def run(model_name: str, dataset: str, make_model: Callable[[int, int], nn.Module], settings: Settings,
        make_encoder: Callable = word_encoder, seed: int = 0) -> Result:
    """Train `make_model(vocab_size, n_classes)` on `dataset` and score it; returns the scores and probabilities."""
    torch.manual_seed(seed)
    names = labels(dataset)
    splits = {split: load(dataset, split) for split in ("train", "valid", "test")}
    if settings.train_limit:
        splits["train"] = splits["train"].sample(n=min(settings.train_limit, len(splits["train"])), random_state=seed)
    encode, vocab_size = make_encoder(splits["train"]["text"].tolist())

    def loader(split: str, shuffle: bool):
        frame = splits[split]
        ids = [encode(text) for text in frame["text"]]
        ys = [names.index(label) for label in frame["label"]]
        return make_loader(ids, ys, settings.batch_size, shuffle, seed, settings.max_len), ys

    (train_loader, train_y), (valid_loader, valid_y), (test_loader, test_y) = (
        loader("train", True), loader("valid", False), loader("test", False))
    model = make_model(vocab_size, len(names))
    weights = class_weights(train_y, len(names)) if settings.balanced else None
    started = time.perf_counter()
    history = fit(model, train_loader, valid_loader, settings.epochs, settings.lr, settings.weight_decay,
                  weights, settings.patience, label_smoothing=settings.label_smoothing, desc=f"{model_name}/{dataset}")
    seconds = time.perf_counter() - started
    valid_p, test_p = predict_proba(model, valid_loader), predict_proba(model, test_loader)
    return Result(
        model=model_name, dataset=dataset,
        valid_f1=f1_score(valid_y, valid_p.argmax(1), average="macro"),
        test_f1=f1_score(test_y, test_p.argmax(1), average="macro"),
        test_accuracy=accuracy_score(test_y, test_p.argmax(1)),
        best_epoch=history.best_epoch, seconds=seconds,
        parameters=sum(p.numel() for p in model.parameters()), seed=seed,
        valid_proba=np.round(valid_p, 5).tolist(), test_proba=np.round(test_p, 5).tolist(),
    )


def majority_f1(dataset: str) -> float:
    """Test macro-F1 of always predicting the most frequent training label: the floor every model must beat."""
    majority = load(dataset, "train")["label"].mode()[0]
    gold = load(dataset, "test")["label"]
    return f1_score(gold, [majority] * len(gold), average="macro")


def save_results(results: list[Result], path: str) -> None:
    """Write the results as JSON (the benchmark reads these); only full-size runs call this."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump([asdict(r) for r in results], handle)
