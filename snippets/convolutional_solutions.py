# Solutions to the exercises of docs/intermediate/convolutional.md. Nothing here is trained: each claim holds for
# any weights, so random ones are enough.

# --8<-- [start:exercise-1]
import torch
from torch import nn

torch.manual_seed(0)

V, d, F, C, widths = 10_000, 64, 64, 3, (2, 3, 4, 5)  # the page's settings, 10,000 words, 3 classes
for k in widths:
    conv = nn.Conv1d(d, F, kernel_size=k)
    formula = F * d * k + F  # F filters, each with d x k weights and one bias
    print(f"width {k}: {formula:,} parameters")
    assert sum(p.numel() for p in conv.parameters()) == formula

total = V * d + sum(F * d * k + F for k in widths) + (F * len(widths) * C + C)  # embedding + convs + Linear
print(f"whole model: {total:,}, of which the embedding table holds {V * d / total:.0%}")
assert total == 698_371  # what the page printed for the same settings
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
d, F = 8, 16
x = torch.randn(1, d, 7)  # one text of 7 word vectors
shuffled = x[:, :, torch.randperm(7)]  # the same words in another order
for k in (1, 2):
    conv = nn.Conv1d(d, F, kernel_size=k)
    same = torch.allclose(torch.relu(conv(x)).amax(2), torch.relu(conv(shuffled)).amax(2))
    print(f"width {k}: pooled features unchanged by shuffling the words: {same}")
    assert same == (k == 1)  # width 1 sees one word at a time: a bag of words
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
conv = nn.Conv1d(d, F, kernel_size=3)
text = torch.randn(1, d, 6)
longer = torch.cat([text, torch.randn(1, d, 30)], dim=2)  # the same text followed by 30 more words

max_short, max_long = torch.relu(conv(text)).amax(2), torch.relu(conv(longer)).amax(2)
mean_short, mean_long = torch.relu(conv(text)).mean(2), torch.relu(conv(longer)).mean(2)
print("max pooling:  features that went down:", int((max_long < max_short).sum()), "of", F)
print("mean pooling: features that went down:", int((mean_long < mean_short).sum()), "of", F)
assert (max_long >= max_short).all()  # the old windows are still there, so the max can only go up
assert (mean_long < mean_short).any()  # an average can be diluted by the new windows
# --8<-- [end:exercise-3]
