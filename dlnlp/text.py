"""Text to tensors, packaged: the tokenizer, vocabulary and batching that the beginner track builds by hand.

The Intermediate and Advanced tutorials import these so that each page can focus on its model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch.utils.data import DataLoader

PAD, UNK = "<pad>", "<unk>"
# Placeholders such as [USERNAME] stay whole, words keep inner hyphens ("kue-kue"), punctuation is a token.
TOKEN = re.compile(r"\[[a-z]+\]|[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Lowercase regex tokenizer: 'Aku menang jackpot!' -> ['aku', 'menang', 'jackpot', '!']."""
    return TOKEN.findall(text.lower())


class Vocab:
    """Token <-> id, built from training texts only; rare tokens map to <unk> (id 1), padding is id 0."""

    def __init__(self, texts: Iterable[str], min_freq: int = 2):
        counts = Counter(token for text in texts for token in tokenize(text))
        self.itos = [PAD, UNK] + sorted(t for t, c in counts.items() if c >= min_freq)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(token, 1) for token in tokenize(text)] or [1]  # never empty


def make_loader(ids: Sequence[list[int]], labels: Sequence[int], batch_size: int, shuffle: bool,
                seed: int = 0, max_len: int = 128) -> DataLoader:
    """Batches of (token ids padded with 0, lengths, labels); long texts are cut to `max_len` tokens."""

    def collate(batch):
        seqs = [torch.tensor(s[:max_len]) for s, _ in batch]
        lengths = torch.tensor([len(s) for s in seqs])
        padded = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=0)
        return padded, lengths, torch.tensor([y for _, y in batch])

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(list(zip(ids, labels)), batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      generator=generator)
