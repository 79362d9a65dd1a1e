# tutorial-test: timeout=120
# Solutions to the exercises of docs/beginner/text-to-tensors.md.
# Each section runs on its own.

# --8<-- [start:exercise-1]
import re
from collections import Counter

from dlnlp.data import load

# the page's tokenizer, on one line
TOKEN = re.compile(r"\[username\]|\[url\]|\w+(?:-\w+)*|\.{2,}|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def char_ngrams(text: str, n: int = 3) -> list[str]:
    """Every n characters in a row of each word, with < and > around it."""
    grams = []
    for word in tokenize(text):
        word = f"<{word}>"
        grams += [word[i : i + n] for i in range(max(1, len(word) - n + 1))]
    return grams


def oov_rate(tokenizer, min_freq: int = 2) -> float:
    train_texts = load("emot", "train")["text"]
    valid_texts = load("emot", "valid")["text"]
    counts = Counter(t for text in train_texts for t in tokenizer(text))
    known = {token for token, count in counts.items() if count >= min_freq}
    valid_tokens = [t for text in valid_texts for t in tokenizer(text)]
    return sum(t not in known for t in valid_tokens) / len(valid_tokens)


print(char_ngrams("kucingku sakit"))
word_oov, char_oov = oov_rate(tokenize), oov_rate(char_ngrams)
print("out-of-vocabulary rate on EmoT valid:")
print(f"words {word_oov:.3f}, character trigrams {char_oov:.3f}")
# a new word is common; a new 3-letter piece is much rarer
assert char_oov < word_oov / 5

# the price: many more tokens per text
valid_texts = load("emot", "valid")["text"]
growth = (sum(len(char_ngrams(text)) for text in valid_texts)
          / sum(len(tokenize(text)) for text in valid_texts))
print(f"trigrams per text: {growth:.1f} times as many as words")
assert growth > 2
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
import re
from collections import Counter

from dlnlp.data import load

TOKEN = re.compile(r"\[username\]|\[url\]|\w+(?:-\w+)*|\.{2,}|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


for name in ["emot", "nusax_id"]:
    train_texts = load(name, "train")["text"]
    valid_texts = load(name, "valid")["text"]
    counts = Counter(t for text in train_texts for t in tokenize(text))
    valid_tokens = [t for text in valid_texts for t in tokenize(text)]
    print(f"{name}: {len(train_texts)} training texts")
    print("min_freq  vocabulary  valid OOV")
    oov_rates = []
    for min_freq in [1, 2, 3, 5, 10]:
        known = {token for token, c in counts.items() if c >= min_freq}
        unknown = sum(t not in known for t in valid_tokens)
        oov_rates.append(unknown / len(valid_tokens))
        # + 2: <pad> and <unk>
        print(f"{min_freq:8d}  {len(known) + 2:10d}  {oov_rates[-1]:9.3f}")
    print()
    # a higher cut-off never makes fewer tokens unknown
    assert oov_rates == sorted(oov_rates)
    # even min_freq=1 misses the words that only occur in valid
    assert oov_rates[0] > 0
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
from collections import Counter

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from dlnlp.data import load

torch.manual_seed(0)
MAX_LEN = 64
PAD, UNK = 0, 1

# SmSA comes lowercased, mostly with spaces around punctuation,
# so text.split() is close to the page's tokenizer here
train = load("smsa", "train")
counts = Counter(token for text in train["text"] for token in text.split())
frequent = [token for token, count in counts.most_common() if count >= 2]
vocab = {token: i + 2 for i, token in enumerate(frequent)}  # after PAD, UNK
examples = [(torch.tensor([vocab.get(t, UNK) for t in text.split()]), 0)
            for text in train["text"]]


def collate_truncate(batch, max_len: int = MAX_LEN):
    """The page's collate, but each text keeps at most max_len tokens."""
    kept = [ids[:max_len] for ids, _ in batch]
    ids = pad_sequence(kept, batch_first=True, padding_value=PAD)
    lengths = torch.tensor([len(k) for k in kept])
    labels = torch.tensor([label for _, label in batch])
    return ids, lengths, labels


loader = DataLoader(examples, batch_size=32, shuffle=True,
                    collate_fn=collate_truncate,
                    generator=torch.Generator().manual_seed(0))
widths = [ids.shape[1] for ids, lengths, _ in loader]
too_long = sum(len(ids) > MAX_LEN for ids, _ in examples)
cut_share = too_long / len(examples)
longest = max(len(ids) for ids, _ in examples)
print(f"{too_long} of {len(examples)} SmSA train texts ({cut_share:.1%}) are"
      f" longer than {MAX_LEN} tokens and get cut")
print(f"widest batch: {max(widths)} tokens (the longest text has {longest})")
assert max(widths) == MAX_LEN
# --8<-- [end:exercise-3]
