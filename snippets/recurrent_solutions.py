# --8<-- [start:exercise-1]
import torch
from torch import nn

torch.manual_seed(0)

x = torch.randn(1, 6, 8)  # one sentence of 6 token vectors
changed = x.clone()
changed[0, -1] = torch.randn(8)  # change only the LAST token

for bidirectional in [False, True]:
    gru = nn.GRU(8, 16, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        before, after = gru(x)[0], gru(changed)[0]  # (1, 6, 16) or (1, 6, 32)
    first_step = (after[0, 0] - before[0, 0]).abs().max().item()
    print(f"bidirectional={bidirectional!s:5}: change of the state at the FIRST token: {first_step:.4f}")
    if bidirectional:
        forward_half, backward_half = after[0, 0, :16] - before[0, 0, :16], after[0, 0, 16:] - before[0, 0, 16:]
        assert forward_half.abs().max() == 0 and backward_half.abs().max() > 1e-3  # only the backward GRU sees it
    else:
        assert first_step == 0  # a left-to-right GRU has not read the last token yet at step 1
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
import torch
from torch import nn

dim, hidden = 100, 64
gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
n_gru = sum(p.numel() for p in gru.parameters())
n_lstm = sum(p.numel() for p in lstm.parameters())
print(f"bi-GRU: {n_gru:,} parameters, bi-LSTM: {n_lstm:,} parameters, ratio {n_lstm / n_gru:.3f}")
assert n_lstm * 3 == n_gru * 4  # 4 gates instead of 3, each with the same shapes

x = torch.randn(2, 5, dim)
_, gru_last = gru(x)  # the GRU returns its last hidden state h
_, (lstm_last, lstm_cell) = lstm(x)  # the LSTM returns a pair: hidden state h and cell state c
print("GRU h:", tuple(gru_last.shape), "LSTM h:", tuple(lstm_last.shape), "LSTM c:", tuple(lstm_cell.shape))
assert gru_last.shape == lstm_last.shape == lstm_cell.shape == (2, 2, hidden)  # (directions, batch, hidden)
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
import torch

torch.manual_seed(0)

states = torch.randn(2, 4, 6)  # (batch, seq, features): what the bi-GRU returns
lengths = torch.tensor([4, 2])  # the second sentence has 2 real tokens and 2 pads
real = torch.arange(4) < lengths[:, None]

query = torch.zeros(6)  # a query of zeros scores every token 0
scores = torch.tanh(states) @ query
weights = scores.masked_fill(~real, float("-inf")).softmax(dim=1)
pooled = (weights.unsqueeze(-1) * states).sum(dim=1)

mean = (states * real.unsqueeze(-1)).sum(dim=1) / lengths[:, None]  # the average of the real tokens' states
print("weights:", weights.tolist())
assert torch.allclose(pooled, mean, atol=1e-6)  # equal scores: attention pooling is mean pooling
# --8<-- [end:exercise-3]

# --8<-- [start:exercise-4]
from dlnlp.data import load
from dlnlp.text import tokenize

fit_64 = {}  # dataset -> share of its training texts that max_len=64 keeps whole
for dataset in ["emot", "smsa", "nusax_id"]:
    lengths = [len(tokenize(text)) for text in load(dataset, "train")["text"]]
    fit_40 = sum(n <= 40 for n in lengths) / len(lengths)
    fit_64[dataset] = sum(n <= 64 for n in lengths) / len(lengths)
    print(f"{dataset:<9} {len(lengths):>6,} training texts: {fit_40:.1%} have at most 40 tokens,"
          f" {fit_64[dataset]:.1%} at most 64 (the longest has {max(lengths)})")
smsa_fit_64 = fit_64["smsa"]
assert smsa_fit_64 == min(fit_64.values())  # of the three, SmSA has the most texts longer than 64 tokens
# --8<-- [end:exercise-4]
