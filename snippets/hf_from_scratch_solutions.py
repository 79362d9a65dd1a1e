# Solutions to the exercises of docs/advanced/hugging-face.md (no model training: each runs in a few seconds).

# --8<-- [start:exercise-1]
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from dlnlp.data import load
from dlnlp.text import Vocab, tokenize

torch.manual_seed(0)

tweets = load("emot", "train")["text"].tolist()  # the 3,521 EmoT training tweets: quick to train on
valid = load("emot", "valid")["text"].tolist()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(model, trainer) -> Tokenizer:
    """Same normalizer and pre-tokenizer for every kind, so that only the way words are cut differs."""
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(tweets, trainer=trainer)
    return tokenizer


kinds = {
    "WordPiece": train_tokenizer(models.WordPiece(unk_token="[UNK]"), trainers.WordPieceTrainer(
        vocab_size=4000, min_frequency=2, special_tokens=SPECIAL, show_progress=False)),
    "BPE": train_tokenizer(models.BPE(unk_token="[UNK]"), trainers.BpeTrainer(
        vocab_size=4000, min_frequency=2, special_tokens=SPECIAL, show_progress=False)),
    "Unigram": train_tokenizer(models.Unigram(), trainers.UnigramTrainer(
        vocab_size=4000, special_tokens=SPECIAL, unk_token="[UNK]", show_progress=False)),
}
sentence = "Pelayanannya sangat mengecewakan, makanannya juga tidak enak!"
words = sum(len(kinds["BPE"].pre_tokenizer.pre_tokenize_str(kinds["BPE"].normalizer.normalize_str(text)))
            for text in valid)
for name, tokenizer in kinds.items():
    pieces = sum(len(encoding.ids) for encoding in tokenizer.encode_batch(valid))
    print(f"{name:<9} {pieces / words:.3f} pieces per word on EmoT valid | {tokenizer.encode(sentence).tokens}")
    assert tokenizer.get_vocab_size() == 4000 and pieces > words  # some words need several pieces
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
def mask_tokens(ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int, p: float = 0.15):
    """BERT's masking (Devlin et al., 2019): choose p of the positions; of those, 80% become [MASK],
    10% a random token and 10% stay unchanged. Labels are -100 (ignored by the loss) where nothing was chosen."""
    chosen = (torch.rand(ids.shape) < p) & ~special
    labels = torch.where(chosen, ids, -100)
    dice = torch.rand(ids.shape)
    inputs = ids.clone()
    inputs[chosen & (dice < 0.8)] = mask_id
    random_ids = torch.randint(len(SPECIAL), vocab_size, ids.shape)  # never a special token
    swap = chosen & (dice >= 0.8) & (dice < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, labels


ids = torch.randint(len(SPECIAL), 4000, (1000, 64))  # 64,000 made-up token ids
special = torch.zeros_like(ids, dtype=torch.bool)
special[:, 0] = special[:, -1] = True  # the [CLS] and [SEP] slots are never chosen
inputs, labels = mask_tokens(ids, special, mask_id=4, vocab_size=4000)
chosen = labels != -100
shares = [(inputs[chosen] == 4).float().mean(), ((inputs != ids) & (inputs != 4))[chosen].float().mean(),
          (inputs == ids)[chosen].float().mean()]
print(f"chosen: {chosen.float().mean():.3f} of the positions; of those [MASK] {shares[0]:.3f}, "
      f"random {shares[1]:.3f}, unchanged {shares[2]:.3f}")
assert not chosen[special].any() and (inputs[~chosen] == ids[~chosen]).all()
assert abs(shares[0] - 0.8) < 0.02 and abs(shares[1] - 0.1) < 0.02 and abs(shares[2] - 0.1) < 0.02
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
word_vocab = Vocab(tweets, min_freq=2)  # the word-level vocabulary of the Beginner and Intermediate pages
valid_words = [word for text in valid for word in tokenize(text)]
unknown_words = sum(word not in word_vocab.stoi for word in valid_words) / len(valid_words)
wordpiece = kinds["WordPiece"]
unknown_pieces = sum(encoding.tokens.count("[UNK]") for encoding in wordpiece.encode_batch(valid)) / words
print(f"word vocabulary ({len(word_vocab):,} words): {unknown_words:.1%} of the valid words are unknown")
print(f"WordPiece ({wordpiece.get_vocab_size():,} pieces): {unknown_pieces:.2%} of the valid words hit [UNK]")
rare = next(word for word in valid_words if word not in word_vocab.stoi and len(word) > 8)
print(f"the first long unknown valid word, {rare!r}, in pieces:", wordpiece.encode(rare).tokens)
assert unknown_pieces < 0.01 < unknown_words
# --8<-- [end:exercise-3]
