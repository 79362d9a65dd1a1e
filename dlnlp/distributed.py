# --8<-- [start:imports]
"""Data-parallel training with DistributedDataParallel (DDP), launched by torchrun.

Every process (a *rank*) holds a full copy of a small bag-of-embeddings classifier, trains on its own share of
each epoch's batches, and DDP averages the gradients of all ranks during `backward()`, so every copy takes the
same optimizer step and the copies stay identical. Run it with one process per device:

    python -m torch.distributed.run --standalone --nproc-per-node=2 -m dlnlp.distributed --out runs/ddp

It uses the gloo backend on CPU and NCCL on GPUs; rank 0 logs and saves the checkpoint, and every rank writes
its final weights to OUT/rank{RANK}.safetensors so that they can be compared.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from dlnlp.data import labels, load
from dlnlp.text import Vocab
# --8<-- [end:imports]


# --8<-- [start:arguments]
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a bag-of-embeddings SmSA classifier with DDP.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoint and per-rank weights")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank: each step sees WORLD_SIZE times this")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--train-limit", type=int, default=800, help="first N SmSA training texts (0: all)")
    parser.add_argument("--valid-limit", type=int, default=400, help="first N SmSA validation texts (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)
# --8<-- [end:arguments]


# --8<-- [start:setup]
def setup() -> tuple[int, int, torch.device]:
    """Join the process group that torchrun prepared; returns (rank, world size, this process's device)."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])  # set by torchrun
    local_rank = int(os.environ["LOCAL_RANK"])  # the process's number on THIS machine: picks its GPU
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)  # NCCL: GPU-to-GPU communication
    else:
        device = torch.device("cpu")
        torch.set_num_threads(1)  # each rank gets one core, instead of every rank fighting for all of them
        dist.init_process_group("gloo")  # gloo: communication between CPU processes
    return rank, world_size, device


def save(model: nn.Module, path: Path) -> None:
    """safetensors of the plain model's weights (on the CPU, so that any machine can load them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.cpu() for name, tensor in model.state_dict().items()}, path)


def log(rank: int, message: str) -> None:
    if rank == 0:  # one process speaks for all; otherwise every line would appear WORLD_SIZE times
        print(f"[rank 0] {message}", flush=True)
# --8<-- [end:setup]


# --8<-- [start:data]
def datasets(train_limit: int, valid_limit: int) -> tuple[TensorDataset, TensorDataset, int, int]:
    """SmSA as padded id tensors. Every rank builds the same vocabulary from the same training texts."""
    names = labels("smsa")
    train, valid = load("smsa", "train"), load("smsa", "valid")
    train = train.head(train_limit) if train_limit else train
    valid = valid.head(valid_limit) if valid_limit else valid
    vocab = Vocab(train["text"], min_freq=2)

    def tensors(frame) -> TensorDataset:
        ids = [torch.tensor(vocab.encode(text)[:64]) for text in frame["text"]]
        padded = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=0)
        return TensorDataset(padded, torch.tensor([names.index(label) for label in frame["label"]]))

    return tensors(train), tensors(valid), len(vocab), len(names)
# --8<-- [end:data]


# --8<-- [start:model]
class BagOfEmbeddings(nn.Module):
    """The mean of a text's word vectors (padding id 0 left out), then a linear layer."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 32):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))
# --8<-- [end:model]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Validation loss and accuracy over ALL ranks' shares: sum locally, then all_reduce the sums."""
    model.eval()
    totals = torch.zeros(3, device=device)  # summed loss, correct predictions, examples: of THIS rank's share
    for ids, y in loader:
        ids, y = ids.to(device), y.to(device)
        logits = model(ids)
        totals[0] += nn.functional.cross_entropy(logits, y, reduction="sum")
        totals[1] += (logits.argmax(1) == y).sum()
        totals[2] += len(y)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)  # afterwards every rank holds the same global sums
    return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()
# --8<-- [end:evaluate]


# --8<-- [start:main]
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world_size, device = setup()
    train_set, valid_set, vocab_size, n_classes = datasets(args.train_limit, args.valid_limit)
    # Each rank reads a different, disjoint slice of the (shuffled) data; together they cover one epoch.
    train_sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=train_sampler)
    # Validation is split too (no shuffling). If the size does not divide by WORLD_SIZE, a few texts count twice.
    valid_loader = DataLoader(valid_set, batch_size=256, sampler=DistributedSampler(valid_set, shuffle=False))

    torch.manual_seed(args.seed)  # the same seed on every rank: the same first weights, a reproducible run
    model = BagOfEmbeddings(vocab_size, n_classes).to(device)
    # DDP checks that all ranks' parameters have the same shapes, copies rank 0's weights to every rank (a
    # broadcast), and averages the gradients in backward().
    model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    log(rank, f"world size {world_size}, backend {dist.get_backend()}, {len(train_set)} training texts, "
              f"{len(train_loader)} steps per epoch of {world_size} x {args.batch_size} texts")

    for epoch in range(1, args.epochs + 1):
        train_sampler.set_epoch(epoch)  # a new shuffle every epoch, the same one on every rank
        model.train()
        loss_sum = torch.zeros(1, device=device)
        for ids, y in train_loader:
            ids, y = ids.to(device), y.to(device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(ids), y)
            loss.backward()  # DDP all-reduces (averages) the gradients here, while backward runs
            optimizer.step()  # same gradients + same weights on every rank = same new weights
            loss_sum += loss.detach()
        dist.all_reduce(loss_sum)  # for the log only: the sum over all ranks, made a mean on the next line
        train_loss = loss_sum.item() / (len(train_loader) * world_size)
        valid_loss, valid_accuracy = evaluate(model, valid_loader, device)
        log(rank, f"epoch {epoch}: train loss {train_loss:.4f}  valid loss {valid_loss:.4f}"
                  f"  valid accuracy {valid_accuracy:.4f}")
        if rank == 0:  # one writer: every rank holds the same weights, and they must not race on one file
            save(model.module, args.out / "checkpoint.safetensors")  # .module: the model inside the DDP wrapper

    save(model.module, args.out / f"rank{rank}.safetensors")  # every rank's final weights, to compare them
    dist.barrier()  # wait until every rank has written its file
    log(rank, f"saved {args.out / 'checkpoint.safetensors'}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
# --8<-- [end:main]
