# tutorial-test: timeout=300 volatile=seconds
# --8<-- [start:setup]
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: on a small CPU, BLAS threads only slow down
os.environ["HF_HUB_OFFLINE"] = "1"  # the tokenizer is converted offline; never contact the Hub
import json
import time
from collections import Counter

import numpy as np
import torch
from seqeval.metrics import classification_report, f1_score
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from torch import nn

from dlnlp.data import load_tagged, tags
from dlnlp.zoo import FULL, SEEDS

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread: fast for a model this small, and steady on a busy machine

data = {name: {split: load_tagged(name, split) for split in ("train", "valid", "test")} for name in ("nerp", "posp")}
train, valid, test = data["nerp"]["train"], data["nerp"]["valid"], data["nerp"]["test"]
TAGS = tags("nerp")  # ['B-EVT', ..., 'I-PPL', 'O']
print(f"sentences: train {len(train)}, valid {len(valid)}, test {len(test)}; {len(TAGS)} tags: {TAGS}")
# --8<-- [end:setup]

# --8<-- [start:bio]
EXAMPLE = 293  # a training sentence with people and a place, one of them two tokens long
tokens, gold = train[EXAMPLE]
for token, tag in zip(tokens, gold):
    print(f"{token:<15} {tag}")


def bio_violations(tag_seq: list[str]) -> int:
    """I-X must follow B-X or I-X; count the I- tags that do not."""
    bad = 0
    for previous, tag in zip(["O"] + tag_seq[:-1], tag_seq):
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            bad += 1
    return bad


violations = {name: sum(bio_violations(t) for _, t in split)
              for name, split in (("train", train), ("valid", valid), ("test", test))}
n_violations = sum(violations.values())
print("BIO violations (an I-X not after B-X or I-X):", violations)
tag_counts = Counter(tag for _, t in train for tag in t)
o_share = tag_counts["O"] / sum(tag_counts.values())
print(f"share of O tags in train: {o_share:.1%}")
assert o_share > 0.8  # most tokens are outside any entity
# --8<-- [end:bio]

# --8<-- [start:vocab]
IGNORE = -100  # the label of a padding position: CrossEntropyLoss skips it
word_counts = Counter(token for tokens, _ in train for token in tokens)
itos = ["<pad>", "<unk>"] + sorted(w for w, c in word_counts.items() if c >= 2)
stoi = {w: i for i, w in enumerate(itos)}


def encode(split, tag_set: list[str]):
    tag_id = {tag: i for i, tag in enumerate(tag_set)}
    return [(torch.tensor([stoi.get(w, 1) for w in tokens]), torch.tensor([tag_id[t] for t in t_seq]))
            for tokens, t_seq in split]


def batches(encoded, batch_size: int, seed: int | None = None):
    """Padded (words, labels) batches. With a seed: sentences of similar length batched together, in random order,
    so that the LSTM runs few steps on each batch (its time steps run one after another)."""
    order = np.arange(len(encoded))
    if seed is not None:
        rng = np.random.default_rng(seed)
        order = sorted(order, key=lambda i: (len(encoded[i][0]), rng.random()))  # by length, ties shuffled
    chunks = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    for c in (rng.permutation(len(chunks)) if seed is not None else range(len(chunks))):
        chunk = [encoded[i] for i in chunks[c]]
        words = nn.utils.rnn.pad_sequence([w for w, _ in chunk], batch_first=True, padding_value=0)
        labels = nn.utils.rnn.pad_sequence([y for _, y in chunk], batch_first=True, padding_value=IGNORE)
        yield words, labels


enc_train, enc_valid, enc_test = (encode(split, TAGS) for split in (train, valid, test))
words, labels = next(batches(enc_valid, 4))
print("words", tuple(words.shape), "labels", tuple(labels.shape))
print("labels of the shortest sentence of the batch:", labels[labels.eq(IGNORE).sum(1).argmax()].tolist())
print(f"vocabulary: {len(itos)} words seen at least twice in train")
# What one epoch costs the LSTM: the steps of a batch are the length of its longest sentence.
random_order = [enc_train[i] for i in np.random.default_rng(0).permutation(len(enc_train))]
random_steps = sum(words.shape[1] for words, _ in batches(random_order, 32))
bucketed_steps = sum(words.shape[1] for words, _ in batches(enc_train, 32, seed=1))
print(f"LSTM steps per epoch, batches of 32: random {random_steps:,}, by length {bucketed_steps:,}")
assert bucketed_steps < random_steps / 2
# --8<-- [end:vocab]

# --8<-- [start:model]
class BiLSTMTagger(nn.Module):
    """Word embedding -> bidirectional LSTM -> one linear layer per token: a score for every tag."""

    def __init__(self, vocab_size: int, n_tags: int, dim: int = 100, hidden: int = 100, dropout: float = 0.3):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_tags)

    def forward(self, words: torch.Tensor) -> torch.Tensor:  # (batch, length) -> (batch, length, n_tags)
        lengths = words.ne(0).sum(1).cpu()  # pack_padded_sequence wants the lengths on the CPU
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embed(words)), lengths,
                                                   batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)  # packed: the LSTM never reads the padding
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=words.shape[1])
        return self.out(self.dropout(states))


@torch.no_grad()
def predict(model: nn.Module, encoded, tag_set: list[str]) -> list[list[str]]:
    model.eval()
    predictions = []
    for words, labels in batches(encoded, 256):
        best = model(words).argmax(-1)
        for row, gold_row in zip(best, labels):
            predictions.append([tag_set[i] for i in row[gold_row.ne(IGNORE)].tolist()])
    return predictions
# --8<-- [end:model]

# --8<-- [start:train]
EPOCHS = 10 if FULL else 6  # the full run (DLNLP_FULL=1, benchmarks/tagging.py) trains longer


def train_tagger(enc_train, enc_valid, valid_gold, tag_set, epochs: int, seed: int = 0, verbose: bool = True):
    """Train a BiLSTMTagger; keep the epoch with the best valid entity F1. Returns (model, best F1, epoch)."""
    torch.manual_seed(seed)
    model = BiLSTMTagger(len(itos), len(tag_set))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)  # padding positions add nothing to the loss
    best_f1, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        model.train()
        for words, labels in batches(enc_train, 32, seed=1000 * seed + epoch):
            optimizer.zero_grad()
            scores = model(words)
            loss = loss_fn(scores.reshape(-1, len(tag_set)), labels.reshape(-1))
            loss.backward()
            optimizer.step()
        f1 = f1_score(valid_gold, predict(model, enc_valid, tag_set))
        if verbose:
            print(f"epoch {epoch}  last batch loss {loss.item():.3f}  valid entity F1 {f1:.3f}")
        if f1 > best_f1:
            best_f1, best_epoch = f1, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)  # the epoch with the best valid F1
    return model, best_f1, best_epoch


valid_gold = [t for _, t in valid]
started = time.perf_counter()
model, best_f1, best_epoch = train_tagger(enc_train, enc_valid, valid_gold, TAGS, EPOCHS)
train_seconds = time.perf_counter() - started
print(f"kept epoch {best_epoch} (valid entity F1 {best_f1:.3f})")
print(f"{train_seconds:.0f} seconds of training")
# --8<-- [end:train]

# --8<-- [start:evaluate]
valid_pred = predict(model, enc_valid, TAGS)


def token_accuracy(gold_seqs, pred_seqs) -> float:
    pairs = [(g, p) for gs, ps in zip(gold_seqs, pred_seqs) for g, p in zip(gs, ps)]
    return sum(g == p for g, p in pairs) / len(pairs)


all_o = [["O"] * len(t) for t in valid_gold]  # a "model" that never finds an entity
always_o_accuracy = token_accuracy(valid_gold, all_o)
print(f"always O:  token accuracy {always_o_accuracy:.3f}, entity F1 {f1_score(valid_gold, all_o):.3f}")
bilstm_valid_accuracy = token_accuracy(valid_gold, valid_pred)
bilstm_valid_f1 = f1_score(valid_gold, valid_pred)
print(f"BiLSTM:    token accuracy {bilstm_valid_accuracy:.3f}, entity F1 {bilstm_valid_f1:.3f}")
assert always_o_accuracy > 0.8 and f1_score(valid_gold, all_o) == 0  # high accuracy, no entity found
assert bilstm_valid_accuracy - bilstm_valid_f1 > 0.1  # accuracy flatters the tagger
print(classification_report(valid_gold, valid_pred, digits=3))
bilstm_violations = sum(bio_violations(p) for p in valid_pred)
print(f"BIO violations in the BiLSTM's valid predictions: {bilstm_violations}")
# --8<-- [end:evaluate]

# --8<-- [start:baseline]
def features(tokens: list[str], i: int) -> dict:
    """Hand features of token i: the word, its shape, its suffixes and its neighbours."""
    word = tokens[i]
    return {
        "word": word.lower(), "suffix2": word[-2:], "suffix3": word[-3:], "is_title": word[:1].isupper(),
        "is_digit": word.isdigit(), "has_space": " " in word,
        "previous": tokens[i - 1].lower() if i > 0 else "<s>",
        "next": tokens[i + 1].lower() if i + 1 < len(tokens) else "</s>",
    }


def token_features(split):
    return [features(tokens, i) for tokens, _ in split for i in range(len(tokens))]


def regroup(flat, split):  # flat token predictions -> one list per sentence
    out, at = [], 0
    for tokens, _ in split:
        out.append(list(flat[at:at + len(tokens)]))
        at += len(tokens)
    return out


def train_baseline(train):
    """A per-token logistic regression on hand features; C = 1, fixed before any test score."""
    vectorizer = DictVectorizer()
    x_train = vectorizer.fit_transform(token_features(train))
    y_train = [tag for _, t in train for tag in t]
    logreg = LogisticRegression(C=1.0, max_iter=300).fit(x_train, y_train)
    return lambda split: regroup(logreg.predict(vectorizer.transform(token_features(split))), split)


baseline = train_baseline(train)
lr_valid_pred = baseline(valid)
lr_valid_f1 = f1_score(valid_gold, lr_valid_pred)
lr_valid_violations = sum(bio_violations(p) for p in lr_valid_pred)
print(f"logistic regression: token accuracy {token_accuracy(valid_gold, lr_valid_pred):.3f}, "
      f"entity F1 {lr_valid_f1:.3f}, BIO violations in its predictions {lr_valid_violations}")
# --8<-- [end:baseline]

# --8<-- [start:test]
test_gold = [t for _, t in test]
bilstm_test_f1 = f1_score(test_gold, predict(model, enc_test, TAGS))
lr_test_f1 = f1_score(test_gold, baseline(test))
print(f"test entity F1: BiLSTM {bilstm_test_f1:.3f}, logistic regression {lr_test_f1:.3f}")
# --8<-- [end:test]

# --8<-- [start:posp]
POS_TAGS = tags("posp")  # B-ADJ, B-NNO, ...: one tag per token, all written with B-
pos = data["posp"]
pos_enc = {split: encode(pos[split], POS_TAGS) for split in ("train", "valid", "test")}
pos_valid_gold = [t for _, t in pos["valid"]]
POS_EPOCHS = 10 if FULL else 3
pos_model, pos_valid_f1, pos_epoch = train_tagger(pos_enc["train"], pos_enc["valid"], pos_valid_gold, POS_TAGS,
                                                  POS_EPOCHS)
pos_valid_pred = predict(pos_model, pos_enc["valid"], POS_TAGS)
pos_valid_accuracy = token_accuracy(pos_valid_gold, pos_valid_pred)
print(f"POSP, kept epoch {pos_epoch}: valid F1 {pos_valid_f1:.4f}, token accuracy {pos_valid_accuracy:.4f}")
assert abs(pos_valid_f1 - pos_valid_accuracy) < 1e-9  # every "entity" is one token: F1 is the accuracy
pos_test_f1 = f1_score([t for _, t in pos["test"]], predict(pos_model, pos_enc["test"], POS_TAGS))
print(f"POSP test F1: BiLSTM {pos_test_f1:.3f}")
# --8<-- [end:posp]

# --8<-- [start:published]
# Test F1 (%) published in Wilie et al. (2020), IndoNLU, Table 5: pretrained Transformers, fine-tuned.
PUBLISHED = {"mBERT": (69.27, 91.85), "XLM-R base": (75.03, 95.16), "IndoBERT large (p1)": (79.25, 95.71)}
print(f"{'model':<32} {'NERP':>6} {'POSP':>6}")
ours = f"our BiLSTM ({'full' if FULL else 'quick'} run, seed 0)"
print(f"{ours:<32} {100 * bilstm_test_f1:>6.2f} {100 * pos_test_f1:>6.2f}")
for name, (nerp_f1, posp_f1) in PUBLISHED.items():
    print(f"{name:<32} {nerp_f1:>6.2f} {posp_f1:>6.2f}")
nerp_gap = PUBLISHED["IndoBERT large (p1)"][0] - 100 * bilstm_test_f1
posp_gap = PUBLISHED["IndoBERT large (p1)"][1] - 100 * pos_test_f1
assert nerp_gap > 5 and posp_gap < nerp_gap  # far ahead on entities, less so on parts of speech
# --8<-- [end:published]

# --8<-- [start:wordpieces]
from transformers import AutoTokenizer  # noqa: E402

from dlnlp import pretrained  # noqa: E402

folder = pretrained.convert()  # the Hugging Face folder (about half a minute the first time, then instant)
tokenizer = AutoTokenizer.from_pretrained(folder)
tag_id = {tag: i for i, tag in enumerate(TAGS)}


def align(tokens: list[str], tag_seq: list[str]):
    """Sub-token ids and labels: the first piece of a word gets the word's tag, the rest and specials -100."""
    encoding = tokenizer(tokens, is_split_into_words=True)
    labels, previous = [], None
    for word in encoding.word_ids():
        labels.append(IGNORE if word is None or word == previous else tag_id[tag_seq[word]])
        previous = word
    return encoding, labels


def words_from_pieces(encoding, piece_tags: list[str]) -> list[str]:
    """The reverse: a word's prediction is the prediction on its first piece."""
    out, previous = [], None
    for word, tag in zip(encoding.word_ids(), piece_tags):
        if word is not None and word != previous:
            out.append(tag)
        previous = word
    return out


tokens, gold = train[EXAMPLE]
encoding, labels = align(tokens, gold)
for piece, word, label in zip(encoding.tokens(), encoding.word_ids(), labels):
    print(f"{piece:<14} word {str(word):<5} label {TAGS[label] if label != IGNORE else IGNORE}")

round_trips = 0
for tokens, gold in valid:
    encoding, labels = align(tokens, gold)
    piece_tags = [TAGS[label] if label != IGNORE else "O" for label in labels]
    round_trips += words_from_pieces(encoding, piece_tags) == gold
pieces_per_word = np.mean([len(tokenizer(t, is_split_into_words=True)["input_ids"]) - 2 for t, _ in valid]) / \
    np.mean([len(t) for t, _ in valid])
print(f"{round_trips} of {len(valid)} valid sentences round-trip; {pieces_per_word:.2f} pieces per word")
assert round_trips == len(valid)
# --8<-- [end:wordpieces]

# --8<-- [start:save]
@torch.no_grad()
def log_probs(model: nn.Module, encoded) -> list[np.ndarray]:
    """Per sentence, a (length, n_tags) array of log-probabilities: what the exercises decode."""
    model.eval()
    out = []
    for words, labels in batches(encoded, 256):
        scores = model(words).log_softmax(-1)
        out += [row[gold_row.ne(IGNORE)].numpy() for row, gold_row in zip(scores, labels)]
    return out


np.savez("nerp_valid_log_probs.npz", *log_probs(model, enc_valid))  # arr_0, arr_1, ...: one per sentence
with open("tagger_predictions.json", "w", encoding="utf-8") as handle:
    json.dump({"vocabulary": itos, "nerp_valid": valid_pred, "posp_valid": pos_valid_pred}, handle)
print("saved nerp_valid_log_probs.npz and tagger_predictions.json for the exercises")
# --8<-- [end:save]

# --8<-- [start:benchmark]
# The benchmark (DLNLP_FULL=1, benchmarks/tagging.py): settings fixed above before any full-size test score;
# each dataset, each seed of dlnlp.zoo.SEEDS, the BiLSTM and the (deterministic) logistic regression, test once.
if FULL:
    results = []
    for name, tag_set in (("nerp", TAGS), ("posp", POS_TAGS)):
        enc = {split: encode(data[name][split], tag_set) for split in ("train", "valid", "test")}
        gold_valid = [t for _, t in data[name]["valid"]]
        for seed in SEEDS:
            started = time.perf_counter()
            seed_model, seed_valid_f1, seed_epoch = train_tagger(enc["train"], enc["valid"], gold_valid, tag_set,
                                                                 EPOCHS, seed, verbose=False)
            seconds = time.perf_counter() - started
            results.append({"dataset": name, "model": "bilstm", "seed": seed, "valid_f1": seed_valid_f1,
                            "best_epoch": seed_epoch, "train_seconds": seconds,
                            "test_pred": predict(seed_model, enc["test"], tag_set)})
            print(f"{name} BiLSTM seed {seed}: epoch {seed_epoch}, valid {seed_valid_f1:.3f}, {seconds:.0f} s",
                  flush=True)
        started = time.perf_counter()
        predict_baseline = train_baseline(data[name]["train"])
        seconds = time.perf_counter() - started
        results.append({"dataset": name, "model": "logreg", "seed": None,
                        "valid_f1": f1_score(gold_valid, predict_baseline(data[name]["valid"])),
                        "train_seconds": seconds, "test_pred": predict_baseline(data[name]["test"])})
    with open("sequence_labelling.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle)  # benchmarks/tagging.py scores the test predictions
# --8<-- [end:benchmark]
