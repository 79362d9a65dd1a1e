# tutorial-test: timeout=120
# --8<-- [start:setup]
import math
import os
from collections import Counter

import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tqdm import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForMaskedLM,
                          DataCollatorForLanguageModeling, PreTrainedTokenizerFast,
                          get_linear_schedule_with_warmup)

from dlnlp.data import labels, load
from dlnlp.training import class_weights
from dlnlp.zoo import majority_f1

torch.manual_seed(0)  # the same weights, masks and batches on every run
torch.set_num_threads(1)  # tiny matrices gain little from more threads; one leaves the other cores free
# --8<-- [end:setup]

# --8<-- [start:corpus]
corpus = load("emot", "train")["text"].tolist() + load("smsa", "train")["text"].tolist()
words = sum(len(text.split()) for text in corpus)
print(f"{len(corpus):,} training texts (EmoT + SmSA train), {words:,} words")
# --8<-- [end:corpus]

# --8<-- [start:train-tokenizer]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
normalizer = normalizers.BertNormalizer(lowercase=True)  # clean up, lowercase, strip accents
pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split at spaces and punctuation

# tokenizers 0.23 numbers the word-inner pieces "##a", "##b", ... in a new order on every run, which can change
# the pieces it learns (huggingface/tokenizers issue 1794). Reserving them up front, sorted, makes it repeatable.
characters = sorted({c for text in corpus for c in normalizer.normalize_str(text)} - {" "})
trainer = trainers.WordPieceTrainer(vocab_size=6000, min_frequency=2, show_progress=False,
                                    special_tokens=SPECIAL + ["##" + c for c in characters])
draft = Tokenizer(models.WordPiece(unk_token="[UNK]"))
draft.normalizer, draft.pre_tokenizer = normalizer, pre_tokenizer
draft.train_from_iterator(corpus, trainer=trainer)

# The learned vocabulary in a fresh tokenizer, where "##a", "##b", ... are ordinary pieces again
wordpiece = Tokenizer(models.WordPiece(draft.get_vocab(), unk_token="[UNK]"))
wordpiece.normalizer, wordpiece.pre_tokenizer = normalizer, pre_tokenizer

print("vocabulary size:", wordpiece.get_vocab_size())
print("special tokens:", {token: wordpiece.token_to_id(token) for token in SPECIAL})
print("some pieces:", [wordpiece.id_to_token(i) for i in range(1000, 6000, 500)])
assert wordpiece.get_vocab_size() == 6000 and wordpiece.token_to_id("[PAD]") == 0
# --8<-- [end:train-tokenizer]

# --8<-- [start:pieces]
sentence = "Pelayanannya sangat mengecewakan, makanannya juga tidak enak!"  # made up for this page
normalized = wordpiece.normalizer.normalize_str(sentence)
print("normalized:    ", normalized)
print("pre-tokenized: ", [word for word, _span in wordpiece.pre_tokenizer.pre_tokenize_str(normalized)])
encoding = wordpiece.encode(sentence)
print("word pieces:   ", encoding.tokens)
print("ids:           ", encoding.ids)
assert "[UNK]" not in encoding.tokens  # any word can be spelled with pieces; [UNK] only for unseen characters
assert encoding.ids.count(wordpiece.token_to_id("##nya")) == 2  # one id for the suffix, in both words

review = load("smsa", "valid")["text"][0]  # a real review the tokenizer never saw
print("\na real review: ", review)
print("word pieces:   ", wordpiece.encode(review).tokens)
assert "[UNK]" not in wordpiece.encode(review).tokens
# --8<-- [end:pieces]

# --8<-- [start:wrap]
wordpiece.post_processor = processors.TemplateProcessing(  # what BERT expects around every text
    single="[CLS] $A [SEP]",
    pair="[CLS] $A [SEP] $B:1 [SEP]:1",
    special_tokens=[("[CLS]", wordpiece.token_to_id("[CLS]")), ("[SEP]", wordpiece.token_to_id("[SEP]"))],
)
wordpiece.decoder = decoders.WordPiece()  # glue "##" pieces back onto their word when decoding

tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=wordpiece, model_max_length=128,
    pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
)
batch = tokenizer(["Makanannya enak sekali", "Tidak enak"], padding=True, return_tensors="pt")
print("input_ids:\n", batch["input_ids"])
print("attention_mask:\n", batch["attention_mask"])
print("decoded:", tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True))
assert batch["input_ids"][1, -1] == tokenizer.pad_token_id and batch["attention_mask"][1, -1] == 0
# --8<-- [end:wrap]

# --8<-- [start:model]
config = BertConfig(
    vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
    intermediate_size=256, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
)
mlm_model = BertForMaskedLM(config)
embeddings = mlm_model.bert.embeddings.word_embeddings
print(f"parameters: {mlm_model.num_parameters():,} (word embeddings: {embeddings.weight.numel():,})")
assert mlm_model.cls.predictions.decoder.weight is embeddings.weight  # input and output embeddings are tied
assert embeddings.weight.numel() > mlm_model.num_parameters() / 2  # most parameters: one row per piece
# --8<-- [end:model]

# --8<-- [start:masking]
# BERT's recipe (Devlin et al., 2019), written out although these are the defaults: choose 15% of the pieces;
# of those, 80% become [MASK], 10% a random piece, and the rest stay as they are.
collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, mask_replace_prob=0.8,
                                           random_replace_prob=0.1)
example = collator([tokenizer(sentence)])
print("input: ", tokenizer.convert_ids_to_tokens(example["input_ids"][0]))
print("labels:", [tokenizer.convert_ids_to_tokens(i) if i != -100 else "-" for i in example["labels"][0].tolist()])
# --8<-- [end:masking]

# --8<-- [start:mlm-loss]
def mlm_loss(model: BertForMaskedLM, batch: dict) -> torch.Tensor:
    """Cross-entropy at the masked positions only: the number model(**batch).loss gives, for less work."""
    hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    chosen = batch["labels"] != -100  # (batch, time): True at the ~15% positions to predict
    logits = model.cls(hidden[chosen])  # (n_chosen, vocab) instead of (batch, time, vocab)
    return F.cross_entropy(logits, batch["labels"][chosen])


held_out = load("emot", "valid")["text"].tolist()[:64] + load("smsa", "valid")["text"].tolist()[:64]
check = collator([tokenizer(text, truncation=True, max_length=32) for text in held_out])  # masked once, kept
mlm_model.eval()
with torch.no_grad():
    before, built_in = mlm_loss(mlm_model, check).item(), mlm_model(**check).loss.item()
print(f"held-out MLM loss before pre-training: {before:.3f} (uniform guessing: ln 6000 = {math.log(6000):.3f})")
graded, scored = (check["labels"] != -100).sum().item(), check["input_ids"].numel()  # rows for the head
work_saved = scored / graded
print(f"mlm_loss runs the head on {graded:,} of the batch's {scored:,} positions: {work_saved:.1f} times fewer")
assert abs(before - built_in) < 1e-4  # the same loss as the model's own
# --8<-- [end:mlm-loss]

# --8<-- [start:pretrain]
steps, batch_size = 100, 32
chosen_texts = [corpus[i] for i in torch.randperm(len(corpus))[: steps * batch_size].tolist()]  # each seen once
encoded = tokenizer(chosen_texts, truncation=True, max_length=32)["input_ids"]  # short: cheap steps
optimizer = torch.optim.AdamW(mlm_model.parameters(), lr=2e-3, weight_decay=0.01)
schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=10, num_training_steps=steps)

mlm_model.train()
for step in tqdm(range(steps), desc="pre-training"):
    batch = collator([{"input_ids": ids} for ids in encoded[step * batch_size:(step + 1) * batch_size]])
    loss = mlm_loss(mlm_model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(mlm_model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
mlm_model.eval()
with torch.no_grad():
    after = mlm_loss(mlm_model, check).item()
print(f"held-out MLM loss after {steps} steps ({len(encoded):,} texts): {after:.3f}")

counts = Counter(i for ids in encoded for i in ids)  # a model that ignores the context: piece frequencies
targets = check["labels"][check["labels"] != -100].tolist()
unigram = -sum(math.log((counts[i] + 1) / (sum(counts.values()) + len(tokenizer))) for i in targets) / len(targets)
print(f"held-out loss of guessing by piece frequency alone: {unigram:.3f}")
assert after < before - 1.0  # the loss dropped...
assert abs(after - unigram) < 0.2  # ...but only to about what counting pieces gives: little use of the context yet
# --8<-- [end:pretrain]

# --8<-- [start:save]
mlm_model.save_pretrained("tiny-indobert")
tokenizer.save_pretrained("tiny-indobert")
print(sorted(os.listdir("tiny-indobert")))
reloaded_tokenizer = AutoTokenizer.from_pretrained("tiny-indobert")
assert reloaded_tokenizer(sentence)["input_ids"] == tokenizer(sentence)["input_ids"]
# --8<-- [end:save]

# --8<-- [start:fine-tune-data]
names = labels("smsa")
all_train = load("smsa", "train")
train = all_train.sample(n=800, random_state=0)
valid, test = load("smsa", "valid"), load("smsa", "test")
print(f"fine-tuning on {len(train)} of {len(all_train):,} SmSA training reviews; labels {names}")
# --8<-- [end:fine-tune-data]

# --8<-- [start:fine-tune]
classifier = AutoModelForSequenceClassification.from_pretrained(
    "tiny-indobert", num_labels=len(names),
    id2label=dict(enumerate(names)), label2id={name: i for i, name in enumerate(names)},
)
optimizer = torch.optim.AdamW(classifier.parameters(), lr=1e-3, weight_decay=0.01)
epochs, batch_size = 2, 32
steps = epochs * math.ceil(len(train) / batch_size)
schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=steps // 10, num_training_steps=steps)
texts, y = train["text"].tolist(), torch.tensor([names.index(label) for label in train["label"]])
weights = class_weights(y.tolist(), len(names))  # rare classes count as much as common ones, as in the zoo

classifier.train()
for epoch in range(epochs):
    for rows in tqdm(torch.randperm(len(texts)).split(batch_size), desc=f"epoch {epoch + 1}"):
        batch = tokenizer([texts[i] for i in rows.tolist()], padding=True, truncation=True, max_length=64,
                          return_tensors="pt")
        logits = classifier(**batch).logits  # (batch, n_classes)
        loss = F.cross_entropy(logits, y[rows], weight=weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(classifier.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
classifier.eval()
# --8<-- [end:fine-tune]

# --8<-- [start:evaluate]
@torch.no_grad()
def predict(model, texts: list[str], batch_size: int = 128) -> torch.Tensor:
    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=64,
                          return_tensors="pt")
        out.append(model(**batch).logits.argmax(-1))
    return torch.cat(out)


scores = {}
for split, frame in [("valid", valid), ("test", test)]:
    gold = [names.index(label) for label in frame["label"]]
    pred = predict(classifier, frame["text"].tolist())
    scores[split] = f1_score(gold, pred, average="macro")
    print(f"{split}: macro-F1 {scores[split]:.3f}  accuracy {accuracy_score(gold, pred):.3f}")
floor = majority_f1("smsa")
print(f"majority class test macro-F1: {floor:.3f}")
assert scores["test"] > floor + 0.1, "no clear margin over always predicting the most frequent class"
# --8<-- [end:evaluate]

# --8<-- [start:round-trip]
classifier.save_pretrained("tiny-indobert-smsa")
tokenizer.save_pretrained("tiny-indobert-smsa")
again = AutoModelForSequenceClassification.from_pretrained("tiny-indobert-smsa").eval()
probe = tokenizer(test["text"].tolist()[:8], padding=True, return_tensors="pt")
with torch.no_grad():
    same = torch.equal(classifier(**probe).logits, again(**probe).logits)
print("labels stored in config.json:", again.config.id2label)
print("identical logits after the round trip:", same)
assert same
# --8<-- [end:round-trip]

# --8<-- [start:tfidf]
tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)  # words and word pairs
baseline = LogisticRegression(C=10, class_weight="balanced", solver="newton-cg")  # much faster here than lbfgs
baseline.fit(tfidf.fit_transform(train["text"]), train["label"])
tfidf_f1 = f1_score(test["label"], baseline.predict(tfidf.transform(test["text"])), average="macro")
print(f"TF-IDF + logistic regression on the same {len(train)} reviews: test macro-F1 {tfidf_f1:.3f}")
assert tfidf_f1 > scores["test"]  # the honest result: a bag of n-grams beats our tiny BERT
# --8<-- [end:tfidf]
