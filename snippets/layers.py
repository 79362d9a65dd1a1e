# tutorial-test: timeout=60
# --8<-- [start:setup]
import re
from collections import Counter

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dlnlp.data import labels, load

torch.manual_seed(0)  # the same random weights on every run, as on this page


def count_parameters(module: nn.Module) -> int:
    """How many numbers the module learns: the sizes of all its tensors, added up."""
    return sum(p.numel() for p in module.parameters())


# one row per layer: (name, input shape, output shape, parameters, formula)
summary = []
# --8<-- [end:setup]

# --8<-- [start:batch]
def tokenize(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


train = load("emot", "train")
counts = Counter(token for text in train["text"] for token in tokenize(text))
vocab = {"<pad>": 0, "<unk>": 1}  # 0 fills up short sentences, 1 is any unknown word
for token, count in counts.most_common():
    if count >= 2:
        vocab[token] = len(vocab)
PAD = vocab["<pad>"]
V = len(vocab)

sentences = [
    "Aku menangis karena kucingku sakit",  # I cry because my cat is sick
    "Aku takut sendirian di rumah malam ini",  # I am scared to be home alone tonight
    "Aku menang jackpot!",  # I won a jackpot!
]
encoded = [[vocab.get(t, vocab["<unk>"]) for t in tokenize(s)] for s in sentences]
lengths = torch.tensor([len(e) for e in encoded])
# (batch, seq): start with all padding, then write each sentence at the start of its row
ids = torch.full((len(encoded), int(lengths.max())), PAD)
for row, e in enumerate(encoded):
    ids[row, : len(e)] = torch.tensor(e)
pad_mask = ids == PAD  # True where there is no real token

print("vocabulary size:", V)
print("lengths:", lengths.tolist())
print("ids:", tuple(ids.shape))
print(ids)
assert (ids[:, 0] == vocab["aku"]).all()  # every sentence starts with 'aku'
assert ids[0, 3] == ids[2, 2] == vocab["<unk>"]  # 'kucingku' and 'jackpot' are unknown words
# --8<-- [end:batch]

# --8<-- [start:embedding]
EMB = 8  # every token becomes 8 numbers (real models use 100 to 1,024)

# a table with one learnable row of EMB numbers per token id
embedding = nn.Embedding(V, EMB, padding_idx=PAD)
x = embedding(ids)  # look up every id: (batch, seq) -> (batch, seq, EMB)

print("embedding:", tuple(ids.shape), "->", tuple(x.shape))
aku = embedding.weight[vocab["aku"]]
print("vector of 'aku':", [round(v, 3) for v in aku.tolist()])
assert x.shape == (3, 7, EMB)
assert count_parameters(embedding) == V * EMB  # Embedding: vocab_size * dim
assert (x[pad_mask] == 0).all()  # padding_idx: the <pad> row is all zeros
assert torch.equal(x[0, 0], x[1, 0])  # the same word ('aku'), the same vector
summary.append(("Embedding", ids.shape, x.shape, count_parameters(embedding), "V*E"))
# --8<-- [end:embedding]

# --8<-- [start:embedding-bag]
bag = nn.EmbeddingBag(V, EMB, mode="mean")  # look up and average, no padding
flat_ids = torch.tensor([i for e in encoded for i in e])  # all 16 ids in a row
# where each sentence starts in flat_ids: 0, then 0 + 5, then 0 + 5 + 7
offsets = torch.tensor([0] + [len(e) for e in encoded[:-1]]).cumsum(dim=0)
sentence_vectors = bag(flat_ids, offsets)  # one vector per sentence

print("flat ids:", tuple(flat_ids.shape), " offsets:", offsets.tolist())
print("embedding bag:", tuple(flat_ids.shape), "->", tuple(sentence_vectors.shape))
assert sentence_vectors.shape == (3, EMB)
assert count_parameters(bag) == V * EMB  # EmbeddingBag: the same table as Embedding
# by hand: the mean of the word vectors of sentence 1
first = bag.weight[flat_ids[: lengths[0]]].mean(dim=0)
assert torch.allclose(sentence_vectors[0], first)
summary.append(("EmbeddingBag (mean)", flat_ids.shape, sentence_vectors.shape,
                count_parameters(bag), "V*E"))
# --8<-- [end:embedding-bag]

# --8<-- [start:linear]
NUM_CLASSES = len(labels("emot"))  # 5 emotions

linear = nn.Linear(EMB, NUM_CLASSES)  # x @ W.T + b, on the LAST dimension
scores = linear(x)  # every token vector -> 5 scores

print("linear:", tuple(x.shape), "->", tuple(scores.shape))
print("weight:", tuple(linear.weight.shape), " bias:", tuple(linear.bias.shape))
assert scores.shape == (3, 7, NUM_CLASSES)  # batch and sequence are left alone
# Linear: in*out + out
assert count_parameters(linear) == EMB * NUM_CLASSES + NUM_CLASSES
assert torch.allclose(scores, x @ linear.weight.T + linear.bias)
summary.append(("Linear", x.shape, scores.shape, count_parameters(linear), "E*C + C"))
# --8<-- [end:linear]

# --8<-- [start:activations]
z = torch.linspace(-3, 3, 7)
print("input:  ", z.tolist())
for name, activation in [("ReLU", nn.ReLU()), ("GELU", nn.GELU()), ("Tanh", nn.Tanh())]:
    out = activation(z)
    print(f"{name + ':':8}", [round(v, 3) for v in out.tolist()])
    assert out.shape == z.shape  # number by number: the shape stays
    assert count_parameters(activation) == 0  # nothing to learn

probabilities = nn.Softmax(dim=-1)(scores)  # per token: 5 scores -> 5 probabilities
first_token = [round(p, 3) for p in probabilities[0, 0].tolist()]
print("softmax of the first token's scores:", first_token)
assert torch.allclose(probabilities.sum(dim=-1), torch.ones(3, 7))  # rows sum to 1
assert (probabilities > 0).all()
summary.append(("ReLU / GELU / Tanh", z.shape, z.shape, 0, "-"))
summary.append(("Softmax(dim=-1)", scores.shape, probabilities.shape, 0, "-"))
# --8<-- [end:activations]

# --8<-- [start:dropout]
dropout = nn.Dropout(p=0.5)
ones = torch.ones(10_000)

# training mode: zero each value with probability p, scale the others by 1/(1-p)
dropout.train()
dropped = dropout(ones)
print("train mode, first 10:", dropped[:10].tolist())
zeroed = (dropped == 0).float().mean()
print(f"train mode: {zeroed:.2f} zeroed, mean {dropped.mean():.2f}")

dropout.eval()  # evaluation mode: do nothing
print("eval mode, first 10: ", dropout(ones)[:10].tolist())
assert set(dropped.unique().tolist()) == {0.0, 2.0}
assert abs(dropped.mean() - 1) < 0.05  # on average the values keep their size
assert torch.equal(dropout(ones), ones)
assert count_parameters(dropout) == 0  # nothing to learn
summary.append(("Dropout(p=0.5)", ones.shape, dropped.shape, count_parameters(dropout),
                "-"))
# --8<-- [end:dropout]

# --8<-- [start:layer-norm]
layer_norm = nn.LayerNorm(EMB)  # normalizes each vector over its last dimension
h = 5 + 3 * torch.randn(3, 7, EMB)  # numbers drawn around 5 with a spread of 3: far from mean 0, std 1
normed = layer_norm(h)

mean, std = h[0, 0].mean(), h[0, 0].std(unbiased=False)
print(f"before: mean {mean:.3f}, std {std:.3f}")
mean, std = normed[0, 0].mean(), normed[0, 0].std(unbiased=False)
print(f"after:  mean {mean:.3f}, std {std:.3f}")
assert normed.shape == h.shape
assert count_parameters(layer_norm) == 2 * EMB  # LayerNorm: scale and shift per feature
# every one of the 3 x 7 vectors now has mean 0 and standard deviation 1
assert torch.allclose(normed.mean(dim=-1), torch.zeros(3, 7), atol=1e-5)
assert torch.allclose(normed.std(dim=-1, unbiased=False), torch.ones(3, 7), atol=1e-3)
summary.append(("LayerNorm", h.shape, normed.shape, count_parameters(layer_norm),
                "2*E"))
# --8<-- [end:layer-norm]

# --8<-- [start:conv1d]
CHANNELS = 16
# 16 filters, each looking at 3 neighbouring tokens at a time
conv = nn.Conv1d(in_channels=EMB, out_channels=CHANNELS, kernel_size=3, padding=1)

# Conv1d wants channels first: (batch, seq, EMB) -> (batch, EMB, seq)
channels_first = x.transpose(1, 2)
features = conv(channels_first)  # (batch, CHANNELS, seq)
print("conv1d:", tuple(x.shape), "-> transpose ->", tuple(channels_first.shape),
      "->", tuple(features.shape))
assert features.shape == (3, CHANNELS, 7)  # padding=1 keeps the sequence length
# Conv1d: in*out*kernel + out
assert count_parameters(conv) == EMB * CHANNELS * 3 + CHANNELS
summary.append(("Conv1d (k=3)", channels_first.shape, features.shape,
                count_parameters(conv), "E*16*3 + 16"))
# --8<-- [end:conv1d]

# --8<-- [start:rnns]
HIDDEN = 16
x = x.detach()  # from here on we only look at outputs: no gradients needed
# pack the batch: each sentence only as long as its real tokens
packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)

recurrent_layers = [("RNN", nn.RNN, 1), ("LSTM", nn.LSTM, 4), ("GRU", nn.GRU, 3)]
for name, rnn_class, gates in recurrent_layers:
    rnn = rnn_class(EMB, HIDDEN, batch_first=True)
    packed_out, state = rnn(packed)
    h_n = state[0] if name == "LSTM" else state  # an LSTM returns (h_n, c_n)
    # back to a padded tensor: (batch, seq, HIDDEN)
    out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
    print(f"{name:4}: {tuple(x.shape)} -> out {tuple(out.shape)},"
          f" last hidden state {tuple(h_n.shape)}, {count_parameters(rnn)} parameters")
    assert out.shape == (3, 7, HIDDEN) and h_n.shape == (1, 3, HIDDEN)
    # per gate: input weights E*H, hidden-state weights H*H, two biases 2*H
    per_gate = EMB * HIDDEN + HIDDEN * HIDDEN + 2 * HIDDEN
    assert count_parameters(rnn) == gates * per_gate
    assert torch.equal(out_lengths, lengths)
    assert (out[pad_mask] == 0).all()  # padded steps stay 0
    for i, n in enumerate(lengths.tolist()):  # each sentence alone, without padding
        alone = rnn(x[i : i + 1, :n])[1]
        alone = alone[0] if name == "LSTM" else alone
        # packed = as if each sentence had been run on its own
        assert torch.allclose(h_n[:, i], alone[:, 0], atol=1e-6)
    summary.append((name, x.shape, out.shape, count_parameters(rnn),
                    f"{gates}*(E*H + H*H + 2*H)"))

# the GRU on the padded batch, NOT packed: the short sentences read the pads too
unpacked_h = rnn(x)[1]
same = torch.allclose(h_n[:, 2], unpacked_h[:, 2], atol=1e-6)
print("sentence 3, last hidden state packed vs unpacked equal:", same)
# --8<-- [end:rnns]

# --8<-- [start:attention]
attention = nn.MultiheadAttention(EMB, num_heads=2, batch_first=True)
# self-attention: query, key and value are all x; True in the mask = ignore
attended, weights = attention(x, x, x, key_padding_mask=pad_mask)

print("attention:", tuple(x.shape), "->", tuple(attended.shape),
      " weights:", tuple(weights.shape))
print("sentence 3, how much each real token looks at each position (mean of 2 heads):")
for token, row in zip(tokenize(sentences[2]), weights[2]):
    print(f"  {token:8}", [round(w, 2) for w in row.tolist()])
assert attended.shape == x.shape and weights.shape == (3, 7, 7)
# query, key, value and output projections: E*E + E each
assert count_parameters(attention) == 4 * EMB * EMB + 4 * EMB
# every token spreads 100% of its attention ...
assert torch.allclose(weights.sum(dim=-1), torch.ones(3, 7))
# ... over the real tokens only: the padded keys get 0
assert (weights.transpose(1, 2)[pad_mask] == 0).all()
summary.append(("MultiheadAttention", x.shape, attended.shape,
                count_parameters(attention), "4*E*E + 4*E"))
# --8<-- [end:attention]

# --8<-- [start:transformer]
FF = 32  # width of the feed-forward block inside the layer
encoder_layer = nn.TransformerEncoderLayer(
    d_model=EMB, nhead=2, dim_feedforward=FF, batch_first=True
)
encoder_layer.eval()  # switch its dropout off
encoded_x = encoder_layer(x, src_key_padding_mask=pad_mask)

noisy = x.clone()
noisy[pad_mask] = torch.randn(int(pad_mask.sum()), EMB)  # garbage where the pads are
encoded_noisy = encoder_layer(noisy, src_key_padding_mask=pad_mask)

print("transformer encoder layer:", tuple(x.shape), "->", tuple(encoded_x.shape))
print(count_parameters(encoder_layer), "parameters in")
for name, part in encoder_layer.named_children():
    print(f"  {name:9} {type(part).__name__:18} {count_parameters(part):4}")
assert encoded_x.shape == x.shape
# attention + feed-forward (E*FF + FF + FF*E + E) + two LayerNorms (2 * 2*E)
attention_parameters = 4 * EMB * EMB + 4 * EMB
feed_forward_parameters = EMB * FF + FF + FF * EMB + EMB
assert count_parameters(encoder_layer) == (
    attention_parameters + feed_forward_parameters + 2 * (2 * EMB)
)
# the real tokens' outputs ignore whatever is at the padded positions
assert torch.allclose(encoded_x[~pad_mask], encoded_noisy[~pad_mask], atol=1e-6)
summary.append(("TransformerEncoderLayer", x.shape, encoded_x.shape,
                count_parameters(encoder_layer), "attn + FF + 2 norms"))
# --8<-- [end:transformer]

# --8<-- [start:summary]
print(f"V={V}, E={EMB}, H={HIDDEN}, C={NUM_CLASSES}")
print(f"{'layer':23}  {'shape in -> shape out':23}  {'params':>7}  formula")
print("-" * 78)
for name, shape_in, shape_out, parameters, formula in summary:
    shapes = f"{tuple(shape_in)} -> {tuple(shape_out)}"
    print(f"{name:23}  {shapes:23}  {parameters:>7,}  {formula}")
# --8<-- [end:summary]

# --8<-- [start:custom-module]
class LSTMClassifier(nn.Module):
    """Ids -> Embedding -> LSTM -> last hidden state -> Linear -> class scores."""

    def __init__(self, vocab_size: int, dim: int, hidden: int, num_classes: int):
        # always first: it lets PyTorch register the layers below as parts of the model
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True)
        self.classify = nn.Linear(hidden, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = (ids != PAD).sum(dim=1)  # real tokens per sentence
        packed = pack_padded_sequence(
            self.embed(ids), lengths, batch_first=True, enforce_sorted=False
        )
        # h_n: (1, batch, hidden), taken at each sentence's own last token
        _, (h_n, _) = self.lstm(packed)
        return self.classify(h_n[-1])  # (batch, num_classes)


model = LSTMClassifier(V, EMB, HIDDEN, NUM_CLASSES)
print(model)
for name, p in model.named_parameters():
    print(f"  {name:22} {str(tuple(p.shape)):10} {p.numel():>7,}")
print(f"  {'total':33} {count_parameters(model):>7,}")

logits = model(ids)
print("logits:", tuple(logits.shape))
assert logits.shape == (3, NUM_CLASSES)
# the sum of its parts: Embedding + LSTM + Linear
lstm_parameters = 4 * (EMB * HIDDEN + HIDDEN * HIDDEN + 2 * HIDDEN)
assert count_parameters(model) == (
    V * EMB + lstm_parameters + HIDDEN * NUM_CLASSES + NUM_CLASSES
)
# the same sentences with 4 more pads each: the answer does not change
more_padding = torch.cat([ids, torch.full((3, 4), PAD)], dim=1)
assert torch.allclose(model(more_padding), logits, atol=1e-6)
# --8<-- [end:custom-module]

# --8<-- [start:sequential]
bag_model = nn.Sequential(
    # (batch, seq) ids -> (batch, EMB): the mean of each row, pads left out
    nn.EmbeddingBag(V, EMB, mode="mean", padding_idx=PAD),
    nn.Linear(EMB, HIDDEN),
    nn.ReLU(),
    nn.Linear(HIDDEN, NUM_CLASSES),
)
print(bag_model)
for name, p in bag_model.named_parameters():
    print(f"  {name:10} {str(tuple(p.shape)):10} {p.numel():>7,}")
print(f"  {'total':21} {count_parameters(bag_model):>7,}")

bag_scores = bag_model(ids)  # each module's output is the next one's input
print("scores:", tuple(bag_scores.shape))
assert bag_scores.shape == (3, NUM_CLASSES)
assert count_parameters(bag_model) == (
    V * EMB + (EMB * HIDDEN + HIDDEN) + (HIDDEN * NUM_CLASSES + NUM_CLASSES)
)
# a padded 2-D batch gives the same sentence vectors as flat ids + offsets
assert torch.allclose(bag_model[0](ids), bag_model[0](flat_ids, offsets))
# --8<-- [end:sequential]
