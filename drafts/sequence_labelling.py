# tutorial-test: timeout=600
# --8<-- [start:setup]
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: on a small CPU, BLAS threads only slow down
os.environ["HF_HUB_OFFLINE"] = "1"  # the tokenizer is converted offline; never contact the Hub
from collections import Counter

import numpy as np
import torch
from seqeval.metrics import classification_report, f1_score
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from torch import nn

from dlnlp.data import load_tagged, tags

torch.manual_seed(0)
torch.set_num_threads(1)  # one CPU thread: fast for a model this small, and steady on a busy machine

TAGS = tags("nerp")  # ['B-EVT', ..., 'I-PPL', 'O']
train, valid, test = (load_tagged("nerp", split) for split in ("train", "valid", "test"))
print(f"sentences: train {len(train)}, valid {len(valid)}, test {len(test)}; {len(TAGS)} tags: {TAGS}")
# --8<-- [end:setup]

# --8<-- [start:bio]
tokens, gold = train[1]
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
word_counts = Counter(token for tokens, _ in train for token in tokens)
itos = ["<pad>", "<unk>"] + sorted(w for w, c in word_counts.items() if c >= 2)
stoi = {w: i for i, w in enumerate(itos)}
tag_id = {tag: i for i, tag in enumerate(TAGS)}
IGNORE = -100  # the label of a padding position: CrossEntropyLoss skips it


def encode(split):
    return [(torch.tensor([stoi.get(w, 1) for w in tokens]), torch.tensor([tag_id[t] for t in t_seq]))
            for tokens, t_seq in split]


def batches(encoded, batch_size: int, shuffle: bool, seed: int = 0):
    order = np.random.default_rng(seed).permutation(len(encoded)) if shuffle else np.arange(len(encoded))
    for start in range(0, len(encoded), batch_size):
        chunk = [encoded[i] for i in order[start:start + batch_size]]
        words = nn.utils.rnn.pad_sequence([w for w, _ in chunk], batch_first=True, padding_value=0)
        labels = nn.utils.rnn.pad_sequence([y for _, y in chunk], batch_first=True, padding_value=IGNORE)
        yield words, labels


enc_train, enc_valid, enc_test = encode(train), encode(valid), encode(test)
words, labels = next(batches(enc_valid, 4, shuffle=False))
print("words", tuple(words.shape), "labels", tuple(labels.shape))
print("labels of the shortest sentence of the batch:", labels[labels.eq(IGNORE).sum(1).argmax()].tolist())
print(f"vocabulary: {len(itos)} words seen at least twice in train")
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
        lengths = words.ne(0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embed(words)), lengths,
                                                   batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)  # packed: the LSTM never reads the padding
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=words.shape[1])
        return self.out(self.dropout(states))


@torch.no_grad()
def predict(model: nn.Module, encoded) -> list[list[str]]:
    model.eval()
    predictions = []
    for words, labels in batches(encoded, 256, shuffle=False):
        best = model(words).argmax(-1)
        for row, gold_row in zip(best, labels):
            predictions.append([TAGS[i] for i in row[gold_row.ne(IGNORE)].tolist()])
    return predictions
# --8<-- [end:model]

# --8<-- [start:train]
EPOCHS = 6
model = BiLSTMTagger(len(itos), len(TAGS))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)  # padding positions add nothing to the loss
valid_gold = [t for _, t in valid]
best_f1, best_epoch, best_state = -1.0, 0, None
for epoch in range(1, EPOCHS + 1):
    model.train()
    for words, labels in batches(enc_train, 32, shuffle=True, seed=epoch):
        optimizer.zero_grad()
        scores = model(words)
        loss = loss_fn(scores.reshape(-1, len(TAGS)), labels.reshape(-1))
        loss.backward()
        optimizer.step()
    f1 = f1_score(valid_gold, predict(model, enc_valid))
    print(f"epoch {epoch}  last batch loss {loss.item():.3f}  valid entity F1 {f1:.3f}")
    if f1 > best_f1:
        best_f1, best_epoch = f1, epoch
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
model.load_state_dict(best_state)  # the epoch with the best valid F1
print(f"kept epoch {best_epoch} (valid entity F1 {best_f1:.3f})")
# --8<-- [end:train]

# --8<-- [start:evaluate]
valid_pred = predict(model, enc_valid)


def token_accuracy(gold_seqs, pred_seqs) -> float:
    pairs = [(g, p) for gs, ps in zip(gold_seqs, pred_seqs) for g, p in zip(gs, ps)]
    return sum(g == p for g, p in pairs) / len(pairs)


all_o = [["O"] * len(t) for t in valid_gold]  # a "model" that never finds an entity
print(f"always O:  token accuracy {token_accuracy(valid_gold, all_o):.3f}, entity F1 {f1_score(valid_gold, all_o):.3f}")
bilstm_valid_accuracy = token_accuracy(valid_gold, valid_pred)
bilstm_valid_f1 = f1_score(valid_gold, valid_pred)
print(f"BiLSTM:    token accuracy {bilstm_valid_accuracy:.3f}, entity F1 {bilstm_valid_f1:.3f}")
always_o_accuracy = token_accuracy(valid_gold, all_o)
assert always_o_accuracy > 0.8 and f1_score(valid_gold, all_o) == 0  # high accuracy, no entity found
assert bilstm_valid_accuracy - bilstm_valid_f1 > 0.1  # accuracy flatters the tagger
print(classification_report(valid_gold, valid_pred, digits=3))
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


vectorizer = DictVectorizer()
x_train = vectorizer.fit_transform(token_features(train))
y_train = [tag for _, t in train for tag in t]
logreg = LogisticRegression(C=1.0, max_iter=300).fit(x_train, y_train)
lr_valid_pred = regroup(logreg.predict(vectorizer.transform(token_features(valid))), valid)
lr_valid_f1 = f1_score(valid_gold, lr_valid_pred)
lr_valid_violations = sum(bio_violations(p) for p in lr_valid_pred)
print(f"logistic regression: token accuracy {token_accuracy(valid_gold, lr_valid_pred):.3f}, "
      f"entity F1 {lr_valid_f1:.3f}, BIO violations in its predictions {lr_valid_violations}")
# --8<-- [end:baseline]

# --8<-- [start:test]
test_gold = [t for _, t in test]
bilstm_test_f1 = f1_score(test_gold, predict(model, enc_test))
lr_test_f1 = f1_score(test_gold, regroup(logreg.predict(vectorizer.transform(token_features(test))), test))
print(f"test entity F1: BiLSTM {bilstm_test_f1:.3f}, logistic regression {lr_test_f1:.3f}")
# --8<-- [end:test]

# --8<-- [start:wordpieces]
from transformers import AutoTokenizer

from dlnlp import pretrained

folder = pretrained.convert()  # the Hugging Face folder (about half a minute the first time, then instant)
tokenizer = AutoTokenizer.from_pretrained(folder)


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


tokens, gold = train[1]
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
