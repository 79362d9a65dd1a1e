"""The packaged text and training helpers behave as the beginner pages teach."""

import torch
from torch import nn

from dlnlp.text import Vocab, make_loader, tokenize
from dlnlp.training import class_weights, fit, macro_f1


def test_tokenize_keeps_placeholders_hyphenated_words_and_punctuation() -> None:
    assert tokenize("[USERNAME] Aku menang JACKPOT!") == ["[username]", "aku", "menang", "jackpot", "!"]
    assert tokenize("kue-kue enak, 100%") == ["kue-kue", "enak", ",", "100", "%"]


def test_vocab_reserves_pad_and_unk_and_cuts_rare_tokens() -> None:
    vocab = Vocab(["a b b", "b c"], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "b"]
    assert vocab.encode("b a zzz") == [2, 1, 1]
    assert vocab.encode("") == [1]  # an empty text still gives one token, so pooling never divides by zero


def test_loader_pads_cuts_and_is_reproducible() -> None:
    ids = [[5, 6, 7], [8], [9, 9, 9, 9, 9]]
    batches = list(make_loader(ids, [0, 1, 0], batch_size=3, shuffle=False, max_len=4))
    padded, lengths, labels = batches[0]
    assert padded.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [9, 9, 9, 9]]
    assert lengths.tolist() == [3, 1, 4] and labels.tolist() == [0, 1, 0]
    order = lambda seed: [y.tolist() for _, _, y in make_loader(ids, [0, 1, 2], 1, shuffle=True, seed=seed)]
    assert order(3) == order(3)


def test_class_weights_balance_the_classes() -> None:
    weights = class_weights([0, 0, 0, 1], n_classes=2)
    assert torch.allclose(weights * torch.tensor([3.0, 1.0]), torch.tensor([2.0, 2.0]))


class Bag(nn.Module):
    def __init__(self, vocab_size: int, n_classes: int, sparse: bool = False):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, 8, padding_idx=0, sparse=sparse)
        self.out = nn.Linear(8, n_classes)

    def forward(self, ids, lengths):
        return self.out(self.embed(ids))


def test_fit_learns_a_separable_task_and_keeps_the_best_epoch() -> None:
    torch.manual_seed(0)
    ids = [[2, 3]] * 20 + [[4, 5]] * 20
    labels = [0] * 20 + [1] * 20
    train = make_loader(ids, labels, batch_size=8, shuffle=True)
    valid = make_loader(ids, labels, batch_size=8, shuffle=False)
    model = Bag(6, 2)
    history = fit(model, train, valid, epochs=15, lr=0.05, patience=3)
    assert macro_f1(model, valid) == history.best_f1 == 1.0  # the restored weights are the best epoch's
    assert len(history.valid_f1) == history.best_epoch + 3 < 15  # early stopping: 3 epochs without improvement
    assert history.train_loss[-1] < history.train_loss[0]


def test_fit_updates_only_the_used_rows_of_a_sparse_embedding() -> None:
    torch.manual_seed(0)
    ids = [[2, 3]] * 20 + [[4, 5]] * 20  # rows 1 and 6..9 are never used
    labels = [0] * 20 + [1] * 20
    train = make_loader(ids, labels, batch_size=8, shuffle=True)
    valid = make_loader(ids, labels, batch_size=8, shuffle=False)
    model = Bag(10, 2, sparse=True)
    before = model.embed.weight.detach().clone()
    history = fit(model, train, valid, epochs=15, lr=0.05, patience=3)  # SparseAdam for the table, AdamW for the rest
    changed = (model.embed.weight != before).any(dim=1)
    assert changed.tolist() == [False, False, True, True, True, True, False, False, False, False]
    assert history.best_f1 == 1.0 and history.train_loss[-1] < history.train_loss[0]
