# tutorial-test: timeout=400 volatile=seconds volatile_values=seconds_cache,seconds_no_cache,speedup,train_seconds
# --8<-- [start:setup]
import math
import statistics
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlnlp.data import load
from dlnlp.text import Vocab, tokenize

torch.manual_seed(0)  # the same first weights, batch order and samples on every run
torch.set_num_threads(1)  # small matrices: one CPU thread is faster than several fighting over them
# --8<-- [end:setup]

# --8<-- [start:data]
train_texts = load("smsa", "train")["text"].tolist()  # 11,000 reviews and comments; the labels are not used
valid_texts = load("smsa", "valid")["text"].tolist()  # held-out text: every setting is chosen on it
test_texts = load("smsa", "test")["text"].tolist()  # scored once, at the very end

vocab = Vocab(train_texts, min_freq=5)  # words seen at least 5 times in TRAIN; the rest become <unk> (id 1)
PAD, UNK = 0, 1
EOS = len(vocab)  # one more id: "end of sentence", which is also what every sentence starts after
itos = vocab.itos + ["</s>"]
V = len(itos)


def encode(text: str) -> list[int]:
    """'Enak sekali!' -> [EOS, id('enak'), id('sekali'), id('!'), EOS]: the model reads all but the last
    id and predicts all but the first, so every word AND the end of the sentence is predicted once."""
    return [EOS] + vocab.encode(text) + [EOS]


train_ids, valid_ids, test_ids = ([encode(t) for t in texts] for texts in (train_texts, valid_texts, test_texts))
n_train_tokens = sum(len(s) - 1 for s in train_ids)  # tokens to predict
n_valid_tokens = sum(len(s) - 1 for s in valid_ids)
unk_share = sum(s.count(UNK) for s in valid_ids) / n_valid_tokens
print(f"vocabulary: {V:,} ids (<pad>, <unk>, {V - 3:,} words, </s>)")
print(f"tokens to predict: train {n_train_tokens:,}, valid {n_valid_tokens:,} ({unk_share:.1%} of valid is <unk>)")
print("first valid sentence as the model sees it:", " ".join(itos[i] for i in valid_ids[0]))
assert max(len(s) for s in train_ids + valid_ids + test_ids) <= 128  # fits the model's 128 positions
# --8<-- [end:data]

# --8<-- [start:count-models]
unigram = Counter(w for s in train_ids for w in s[1:])  # how often each id is the NEXT token
bigram = Counter(pair for s in train_ids for pair in zip(s[:-1], s[1:]))  # (previous, next) pairs
context = Counter(v for s in train_ids for v in s[:-1])  # how often each id is the PREVIOUS token
p_unigram = np.zeros(V)
for w, c in unigram.items():
    p_unigram[w] = c / n_train_tokens
vocab_size = V - 1  # every id except <pad> can be the next token


def add_k(v: int, w: int, k: float) -> float:
    """Add-k smoothing: pretend every (v, w) pair was seen k more times than it was."""
    return (bigram[(v, w)] + k) / (context[v] + k * vocab_size)


# Kneser-Ney (interpolated, bigrams only): subtract D from every seen pair and give what was subtracted to a
# "continuation" unigram: how many DIFFERENT words precede w, not how often w occurs.
D = 0.75  # the usual discount (Chen and Goodman, 1998)
followers = Counter(v for v, _ in bigram)  # number of different words seen after v
p_continuation = np.zeros(V)
for _, w in bigram:
    p_continuation[w] += 1
p_continuation /= len(bigram)


def kneser_ney(v: int, w: int) -> float:
    return max(bigram[(v, w)] - D, 0) / context[v] + D * followers[v] / context[v] * p_continuation[w]


def perplexity(prob, sentences: list[list[int]]) -> float:
    """exp(mean cross-entropy): the mean of -log p(next token) over every token to predict, exponentiated."""
    nll = [-math.log(prob(v, w)) for s in sentences for v, w in zip(s[:-1], s[1:])]
    return math.exp(sum(nll) / len(nll))


assert math.isclose(sum(add_k(EOS, w, 0.1) for w in range(1, V)), 1.0)  # each is a distribution over next ids
assert math.isclose(sum(kneser_ney(EOS, w) for w in range(1, V)), 1.0)
ppl_unigram = perplexity(lambda v, w: p_unigram[w], valid_ids)
add_k_by_k = {k: perplexity(lambda v, w: add_k(v, w, k), valid_ids) for k in (1.0, 0.1, 0.01)}
best_k = min(add_k_by_k, key=add_k_by_k.get)  # k chosen on VALID
ppl_add_k, ppl_kneser_ney = add_k_by_k[best_k], perplexity(kneser_ney, valid_ids)
for k, ppl in add_k_by_k.items():
    print(f"bigram, add-k with k = {k:<4}  valid perplexity {ppl:8.1f}")
print(f"uniform guess over {vocab_size:,} ids: perplexity {vocab_size:,} by definition")
print(f"unigram {ppl_unigram:.1f}, bigram add-{best_k} {ppl_add_k:.1f}, bigram Kneser-Ney {ppl_kneser_ney:.1f}")
assert ppl_kneser_ney < ppl_add_k < ppl_unigram < vocab_size
assert add_k_by_k[1.0] > ppl_unigram  # k = 1 gives unseen pairs so much that it loses even to the unigram
# --8<-- [end:count-models]


# --8<-- [start:model]
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t reads positions 0..t only, with an optional key/value cache."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # the query, key and value projections in one matrix
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        batch, time, d_model = x.shape
        q, k, v = (part.view(batch, time, self.n_heads, self.d_head).transpose(1, 2)  # (batch, heads, time, d_head)
                   for part in self.qkv(x).split(d_model, dim=-1))
        if cache is not None:  # keys and values of the earlier positions were kept: only the new ones are computed
            if cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        n_keys = k.shape[2]  # earlier (cached) positions + the `time` new ones
        # Query i sits at position n_keys - time + i. Keys AFTER it are the future: True above that diagonal.
        future = torch.triu(torch.ones(time, n_keys, dtype=torch.bool, device=x.device), diagonal=n_keys - time + 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=~future)  # mask: True = may attend
        return self.out(out.transpose(1, 2).reshape(batch, time, d_model))


class Block(nn.Module):
    """A pre-norm Transformer block: x + attention(norm(x)), then x + feed-forward(norm(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, n_heads)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), cache)
        return x + self.feed_forward(self.norm2(x))


class TinyGPT(nn.Module):
    """Token + position embeddings -> causal blocks -> logits over the vocabulary for the NEXT token."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 256, max_len: int = 128):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tokens.weight  # weight tying: one matrix to read words and to write them
        for embedding in (self.tokens, self.positions):  # small vectors, as in GPT-2 (the default std is 1):
            nn.init.normal_(embedding.weight, std=0.02)  # the token vectors also make the logits

    def forward(self, ids: torch.Tensor, caches: list[dict] | None = None) -> torch.Tensor:
        start = caches[0]["k"].shape[2] if caches and caches[0] else 0  # positions already in the cache
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.tokens(ids) + self.positions(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.norm(x))  # (batch, time, vocab_size)


model = TinyGPT(V)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}"
      f" (of which token embeddings, shared with the output layer: {model.tokens.weight.numel():,})")
print("the mask for 4 new positions and no cache (1 = may attend):")
print((~torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)).int().numpy())
# --8<-- [end:model]

# --8<-- [start:mask-check]
model.eval()
ids = torch.tensor([valid_ids[0][:10]])
changed = ids.clone()
changed[0, 6:] = torch.randint(2, V, (4,))  # change the LAST four tokens
with torch.no_grad():
    logits, logits_changed = model(ids), model(changed)
print("largest change of the logits at positions 0-5:", f"{(logits - logits_changed)[0, :6].abs().max():.1e}")
print("largest change of the logits at positions 6-9:", f"{(logits - logits_changed)[0, 6:].abs().max():.1e}")
assert torch.allclose(logits[0, :6], logits_changed[0, :6], atol=1e-5)  # the past cannot see the future
assert not torch.allclose(logits[0, 6:], logits_changed[0, 6:])  # (and the changed positions did change)
# --8<-- [end:mask-check]


# --8<-- [start:train]
def batches(sentences: list[list[int]], batch_size: int, shuffle: bool, generator=None):
    """(inputs, targets) pairs of similar-length sentences, padded on the right with <pad> (ignored by the loss)."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))  # similar lengths: little padding
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator)]
    for chunk in chunks:
        padded = nn.utils.rnn.pad_sequence([torch.tensor(sentences[i]) for i in chunk], batch_first=True,
                                           padding_value=PAD)
        yield padded[:, :-1], padded[:, 1:]  # predict token t+1 from tokens 0..t


def mean_loss(model: nn.Module, sentences: list[list[int]]) -> float:
    """Mean cross-entropy (natural log) per predicted token, over every token of `sentences`."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, targets in batches(sentences, 64, shuffle=False):
            logits = model(inputs)
            total += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD,
                                     reduction="sum").item()
            count += (targets != PAD).sum().item()
    return total / count


EPOCHS, LR = 4, 5e-3  # set by the time budget: the valid loss still falls after epoch 4
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
steps = EPOCHS * math.ceil(len(train_ids) / 32)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=steps, pct_start=0.1)
generator = torch.Generator().manual_seed(0)
valid_losses = []
start = time.perf_counter()
for epoch in range(1, EPOCHS + 1):
    model.train()
    for inputs, targets in batches(train_ids, 32, shuffle=True, generator=generator):
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    valid_loss = mean_loss(model, valid_ids)
    valid_losses.append(valid_loss)
    print(f"epoch {epoch}: valid cross-entropy {valid_loss:.3f} nats/token, perplexity {math.exp(valid_loss):.1f}")
train_seconds = time.perf_counter() - start
print(f"training took {train_seconds:.0f} seconds on one CPU thread")
assert valid_losses[-1] < valid_losses[-2]  # still improving at the end: more epochs would help
# --8<-- [end:train]

# --8<-- [start:perplexity]
def next_token_probs(model: nn.Module, sentences: list[list[int]]) -> np.ndarray:
    """p(the actual next token) at every position, in the order perplexity() walks them."""
    model.eval()
    probs = []
    with torch.no_grad():
        for s in sentences:
            ids = torch.tensor(s)
            p = model(ids[None, :-1])[0].softmax(dim=-1)  # (len - 1, V): a distribution at each position
            probs.append(p[torch.arange(len(s) - 1), ids[1:]].numpy())
    return np.concatenate(probs)


p_transformer = next_token_probs(model, valid_ids)
p_kn = np.array([kneser_ney(v, w) for s in valid_ids for v, w in zip(s[:-1], s[1:])])
ppl_transformer = float(np.exp(-np.log(p_transformer).mean()))  # exp(mean cross-entropy), token by token
assert math.isclose(ppl_transformer, math.exp(valid_loss), rel_tol=1e-4)  # the same number as the batched loss
mixtures = {lam: float(np.exp(-np.log(lam * p_transformer + (1 - lam) * p_kn).mean())) for lam in (0.25, 0.5, 0.75)}
best_lambda = min(mixtures, key=mixtures.get)  # chosen on VALID
ppl_mixture = mixtures[best_lambda]
table = {"uniform (every id equally likely)": float(vocab_size), "unigram": ppl_unigram,
         f"bigram, add-k (k = {best_k})": ppl_add_k, "bigram, Kneser-Ney (D = 0.75)": ppl_kneser_ney,
         "TinyGPT (2 causal Transformer blocks)": ppl_transformer,
         f"{best_lambda} TinyGPT + {1 - best_lambda} Kneser-Ney": ppl_mixture}
print(f"{'model':<42} valid perplexity")
for name, ppl in table.items():
    print(f"{name:<42} {ppl:10.1f}")
assert ppl_kneser_ney < ppl_transformer < ppl_add_k  # between the two smoothed bigrams, after 4 epochs
assert ppl_mixture < min(ppl_kneser_ney, ppl_transformer)  # the two models know different things
# --8<-- [end:perplexity]


# --8<-- [start:decoders]
def greedy(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return logits.argmax(dim=-1)  # always the single most likely token


def sampler(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None):
    """A function that draws the next token from softmax(logits / temperature), optionally truncated."""

    def pick(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        logits = logits / temperature  # T < 1 sharpens the distribution, T > 1 flattens it
        if top_k is not None:  # keep the k most likely tokens
            kth_best = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth_best, float("-inf"))
        if top_p is not None:  # nucleus: the fewest most-likely tokens whose probabilities add up to top_p
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each token
            sorted_logits = sorted_logits.masked_fill(before >= top_p, float("-inf"))  # the best one always stays
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
        return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)

    return pick


@torch.no_grad()
def generate(model: nn.Module, prompts: torch.Tensor, steps: int, pick, seed: int = 0,
             use_cache: bool = True) -> torch.Tensor:
    """Extend each row of `prompts` (batch, time) by `steps` tokens, one at a time."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    caches = [{} for _ in model.blocks] if use_cache else None
    ids = prompts
    logits = model(ids, caches)[:, -1]  # the whole prompt once; with a cache, its keys and values are kept
    for _ in range(steps):
        logits[:, [PAD, UNK]] = float("-inf")  # never write padding or "unknown word"
        next_id = pick(logits, generator)
        ids = torch.cat([ids, next_id[:, None]], dim=1)
        if use_cache:
            logits = model(next_id[:, None], caches)[:, -1]  # only the new token goes through the model
        else:
            logits = model(ids)[:, -1]  # the whole prefix again, to get the same last row
    return ids


@torch.no_grad()
def beam_search(model: nn.Module, prompt: list[int], steps: int, width: int = 4) -> list[int]:
    """Keep the `width` most probable continuations; a finished one is scored by its mean log-probability."""
    model.eval()
    beams, finished = [(prompt, 0.0)], []
    for _ in range(steps):
        log_probs = model(torch.tensor([ids for ids, _ in beams]))[:, -1].log_softmax(dim=-1)
        log_probs[:, [PAD, UNK]] = float("-inf")
        scores = torch.tensor([score for _, score in beams])[:, None] + log_probs  # (beams, V)
        best = scores.flatten().topk(width)
        candidates = [(beams[i // V][0] + [i % V], s) for s, i in zip(best.values.tolist(), best.indices.tolist())]
        finished += [(ids, s / (len(ids) - len(prompt))) for ids, s in candidates if ids[-1] == EOS]
        beams = [(ids, s) for ids, s in candidates if ids[-1] != EOS]
        if not beams or len(finished) >= width:
            break
    finished += [(ids, s / (len(ids) - len(prompt))) for ids, s in beams]  # the unfinished ones, if any
    return max(finished, key=lambda pair: pair[1])[0]


DECODERS = {"greedy": greedy, "sampling, T = 1.0": sampler(1.0), "sampling, T = 0.7": sampler(0.7),
            "top-k, k = 10": sampler(top_k=10), "top-p, p = 0.9": sampler(top_p=0.9)}
# A check on one made-up distribution: top-p 0.9 keeps the smallest set of tokens that reaches 0.9
toy = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
kept = {sampler(top_p=0.9)(toy, torch.Generator().manual_seed(s)).item() for s in range(200)}
assert kept == {0, 1, 2}  # 0.5 + 0.3 < 0.9 <= 0.5 + 0.3 + 0.15: the 0.05 token is never drawn
# --8<-- [end:decoders]

# --8<-- [start:generations]
STEPS = 20


def text(ids: list[int]) -> str:
    """Ids -> words, stopping at the first end of sentence."""
    words = []
    for i in ids:
        if i == EOS:
            break
        words.append(itos[i])
    return " ".join(words)


for prompt_text in ("pelayanan nya", "makanan di sini"):
    prompt = encode(prompt_text)[:-1]  # </s> + the words, without the final </s>: the sentence goes on
    print(f"prompt: {prompt_text!r}")
    for name, pick in DECODERS.items():
        out = generate(model, torch.tensor([prompt]), STEPS, pick, seed=0)
        print(f"  {name:<18} ... {text(out[0, len(prompt):].tolist())}")
    print(f"  {'beam search, 4':<18} ... {text(beam_search(model, prompt, STEPS)[len(prompt):])}")
# --8<-- [end:generations]


# --8<-- [start:diversity]
def ngrams(words: list[str], n: int) -> list[tuple]:
    return list(zip(*(words[i:] for i in range(n))))


def diversity(continuations: list[list[str]]) -> dict:
    """distinct-n (Li et al., 2016): distinct n-grams / all n-grams, over ALL continuations together.
    repeated 2-grams: share of the 2-grams of a continuation that already occurred earlier in the SAME one."""
    grams = {n: [g for words in continuations for g in ngrams(words, n)] for n in (1, 2)}
    repeats = sum(len(ngrams(w, 2)) - len(set(ngrams(w, 2))) for w in continuations)
    return {"length": np.mean([len(w) for w in continuations]),
            "distinct-1": len(set(grams[1])) / len(grams[1]), "distinct-2": len(set(grams[2])) / len(grams[2]),
            "repeated 2-grams": repeats / len(grams[2])}


N_PROMPTS = 100  # the first two words of 100 valid sentences (those with at least five words)
prompts = torch.tensor([s[:3] for s in valid_ids if len(s) >= 7][:N_PROMPTS])  # </s> + two words each
outputs = {name: generate(model, prompts, STEPS, pick, seed=0)[:, 3:].tolist() for name, pick in DECODERS.items()}
outputs["beam search, 4"] = [beam_search(model, p, STEPS)[3:] for p in prompts.tolist()]
scores = {name: diversity([text(ids).split() or ["</s>"] for ids in rows]) for name, rows in outputs.items()}
human = diversity([text(s[3:]).split()[:STEPS] for s in valid_ids if len(s) >= 7][:N_PROMPTS])
print(f"{'decoder':<18} {'length':>6} {'distinct-1':>10} {'distinct-2':>10} {'repeated 2-grams':>16}")
for name, row in list(scores.items()) + [("valid (human text)", human)]:
    print(f"{name:<18} {row['length']:6.1f} {row['distinct-1']:10.3f} {row['distinct-2']:10.3f}"
          f" {row['repeated 2-grams']:16.3f}")
greedy_repeats, top_p_repeats = scores["greedy"]["repeated 2-grams"], scores["top-p, p = 0.9"]["repeated 2-grams"]
greedy_distinct2, top_p_distinct2 = scores["greedy"]["distinct-2"], scores["top-p, p = 0.9"]["distinct-2"]
assert greedy_repeats > 2 * top_p_repeats  # greedy decoding loops; sampling from the nucleus much less
assert greedy_distinct2 < top_p_distinct2  # and greedy continuations look alike across prompts
beam_repeats, human_distinct2 = scores["beam search, 4"]["repeated 2-grams"], human["distinct-2"]
assert beam_repeats > 2 * top_p_repeats  # beam search repeats itself too
assert abs(top_p_distinct2 - human_distinct2) < abs(greedy_distinct2 - human_distinct2)  # top-p: closer to people
# --8<-- [end:diversity]

# --8<-- [start:kv-cache]
N_NEW = 100  # tokens to generate; the prompt has 3, so 103 positions of the 128
prompt = prompts[:1]


def timed(use_cache: bool) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = generate(model, prompt, N_NEW, greedy, use_cache=use_cache)
    return time.perf_counter() - start, out


runs = {use_cache: [timed(use_cache) for _ in range(3)] for use_cache in (False, True)}  # both in this one run
seconds_no_cache = statistics.median(t for t, _ in runs[False])
seconds_cache = statistics.median(t for t, _ in runs[True])
speedup = seconds_no_cache / seconds_cache
assert all(torch.equal(out, runs[False][0][1]) for use_cache in runs for _, out in runs[use_cache])  # same tokens
print(f"{N_NEW} greedy tokens, median of 3 runs: without cache {seconds_no_cache:.3f} seconds,"
      f" with cache {seconds_cache:.3f} seconds ({speedup:.1f} times as fast)")
assert speedup > 1.5
# --8<-- [end:kv-cache]

# --8<-- [start:test]
p_transformer_test = next_token_probs(model, test_ids)
p_kn_test = np.array([kneser_ney(v, w) for s in test_ids for v, w in zip(s[:-1], s[1:])])
ppl_test = {"unigram": perplexity(lambda v, w: p_unigram[w], test_ids),
            f"bigram, add-k (k = {best_k})": perplexity(lambda v, w: add_k(v, w, best_k), test_ids),
            "bigram, Kneser-Ney": perplexity(kneser_ney, test_ids),
            "TinyGPT": float(np.exp(-np.log(p_transformer_test).mean())),
            f"{best_lambda} TinyGPT + {1 - best_lambda} Kneser-Ney":
                float(np.exp(-np.log(best_lambda * p_transformer_test + (1 - best_lambda) * p_kn_test).mean()))}
for name, ppl in ppl_test.items():
    print(f"{name:<34} test perplexity {ppl:8.1f}")
test_transformer, test_kneser_ney = ppl_test["TinyGPT"], ppl_test["bigram, Kneser-Ney"]
assert test_transformer > ppl_transformer and test_kneser_ney > ppl_kneser_ney  # test is harder than valid
assert min(ppl_test, key=ppl_test.get).endswith("Kneser-Ney") and "TinyGPT +" in min(ppl_test, key=ppl_test.get)
# --8<-- [end:test]
