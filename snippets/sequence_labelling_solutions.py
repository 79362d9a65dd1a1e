# tutorial-test: timeout=120 after=sequence_labelling
# Solutions to the exercises of docs/intermediate/sequence-labelling.md. They start in the folder that
# snippets/sequence_labelling.py left behind: the NERP tagger's valid log-probabilities in nerp_valid_log_probs.npz,
# its vocabulary and its valid predictions (NERP and POSP) in tagger_predictions.json.

# --8<-- [start:exercise-1]
import json

import numpy as np
from seqeval.metrics import f1_score

from dlnlp.data import load_tagged, tags

TAGS = tags("nerp")
valid = load_tagged("nerp", "valid")
valid_gold = [t for _, t in valid]
saved = np.load("nerp_valid_log_probs.npz")
log_probs = [saved[f"arr_{i}"] for i in range(len(valid))]  # one (length, 11) array per sentence


def allowed(previous: str, tag: str) -> bool:
    """BIO: I-X only after B-X or I-X."""
    return not tag.startswith("I-") or previous[2:] == tag[2:] and previous != "O"


# 0 for an allowed step, -inf for a forbidden one; a sentence starts as if after an O
transition = np.array([[0.0 if allowed(p, t) else -np.inf for t in TAGS] for p in TAGS])
start = np.array([0.0 if allowed("O", t) else -np.inf for t in TAGS])


def viterbi(scores: np.ndarray) -> list[str]:
    """The tag sequence with the highest total log-probability among those that respect BIO."""
    best = start + scores[0]
    back = []
    for row in scores[1:]:
        candidates = best[:, None] + transition  # (previous tag, tag)
        back.append(candidates.argmax(0))
        best = candidates.max(0) + row
    path = [int(best.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return [TAGS[i] for i in reversed(path)]


def bio_violations(tag_seq: list[str]) -> int:
    return sum(not allowed(p, t) for p, t in zip(["O"] + tag_seq[:-1], tag_seq))


greedy = [[TAGS[i] for i in s.argmax(1)] for s in log_probs]
constrained = [viterbi(s) for s in log_probs]
greedy_f1, constrained_f1 = f1_score(valid_gold, greedy), f1_score(valid_gold, constrained)
greedy_violations = sum(map(bio_violations, greedy))
constrained_violations = sum(map(bio_violations, constrained))
print(f"argmax per token: {greedy_violations} BIO violations, valid entity F1 {greedy_f1:.3f}")
print(f"BIO-constrained:  {constrained_violations} BIO violations, valid entity F1 {constrained_f1:.3f}")
assert constrained_violations == 0 < greedy_violations and constrained_f1 > greedy_f1
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
from seqeval.metrics.sequence_labeling import get_entities

saved = json.load(open("tagger_predictions.json", encoding="utf-8"))
known = set(saved["vocabulary"])
found = {"all words known": [0, 0], "an unknown word": [0, 0]}  # [found, total]
for (tokens, gold), pred in zip(valid, saved["nerp_valid"]):
    predicted = set(get_entities(pred))
    for entity in get_entities(gold):  # (type, first token, last token)
        _, first, last = entity
        group = "all words known" if all(w in known for w in tokens[first:last + 1]) else "an unknown word"
        found[group][0] += entity in predicted
        found[group][1] += 1
recall = {group: hits / total for group, (hits, total) in found.items()}
for group, (hits, total) in found.items():
    print(f"entities with {group:<16}: {total:>4}, found {hits:>4} (recall {hits / total:.3f})")
recall_known, recall_unknown = recall["all words known"], recall["an unknown word"]
assert recall_unknown < recall_known
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
from collections import Counter

pos_valid = load_tagged("posp", "valid")
mistakes = Counter((g, p) for (_, gold), pred in zip(pos_valid, saved["posp_valid"])
                   for g, p in zip(gold, pred) if g != p)
n_mistakes = sum(mistakes.values())
print(f"{n_mistakes} wrong tags of {sum(len(t) for t, _ in pos_valid)} valid tokens; the most frequent:")
for (gold_tag, pred_tag), count in mistakes.most_common(6):
    print(f"  gold {gold_tag:<6} predicted {pred_tag:<6} {count:>4} ({count / n_mistakes:.1%})")
(top_gold, top_pred), _ = mistakes.most_common(1)[0]
noun_share = sum(c for (g, p), c in mistakes.items() if {g, p} == {"B-NNO", "B-NNP"}) / n_mistakes
print(f"common noun <-> proper noun: {noun_share:.1%} of the mistakes")
assert {top_gold, top_pred} == {"B-NNO", "B-NNP"}  # the text is lowercased: no capital marks a name
# --8<-- [end:exercise-3]
