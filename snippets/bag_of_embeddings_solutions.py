# Solutions to the exercises of docs/intermediate/bag-of-embeddings.md. Nothing here is trained: counting the
# pieces of the training texts is enough.

# --8<-- [start:exercise-3]
import zlib

from dlnlp.data import load
from dlnlp.text import tokenize

NGRAM_SIZES = (3, 4, 5)  # the page's settings


def char_ngrams(word: str) -> list[str]:  # the same two functions as on the page
    marked = f"<{word}>"
    return [marked[i : i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)]


def word_bigrams(tokens: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def pieces_of(text: str) -> list[str]:
    tokens = tokenize(text)
    return [g for token in tokens for g in char_ngrams(token)] + word_bigrams(tokens)


counts = {}
for dataset in ["emot", "smsa", "nusax_id"]:
    texts = load(dataset, "train")["text"].tolist()
    different = {piece for text in texts for piece in pieces_of(text)}
    ids_per_text = sum(len(tokenize(text)) + len(pieces_of(text)) for text in texts) / len(texts)  # words + pieces
    # Pieces per row, counting only the rows that some piece uses: how many pieces share one embedding.
    per_row = [len(different) / len({zlib.crc32(p.encode("utf-8")) % buckets for p in different})
               for buckets in (2**15, 2**18)]
    counts[dataset] = (len(different), ids_per_text, *per_row)
    print(f"{dataset:<9} {len(different):>7,} different pieces, {ids_per_text:.0f} ids per text;"
          f" pieces per used row: {per_row[0]:.1f} with 2**15 buckets, {per_row[1]:.1f} with 2**18")

smsa_pieces, smsa_ids_per_text, smsa_per_row_2_15, smsa_per_row_2_18 = counts["smsa"]
emot_pieces, nusax_pieces = counts["emot"][0], counts["nusax_id"][0]
assert nusax_pieces < emot_pieces < smsa_pieces  # more training texts, more different pieces
assert smsa_per_row_2_18 < 1.5 < smsa_per_row_2_15  # 2**18 buckets: most pieces have a row of their own

# One batch of 64 SmSA texts touches only a small part of the table (the reason for sparse gradients):
batch = load("smsa", "train")["text"].tolist()[:64]
rows_used = len({token for text in batch for token in tokenize(text)}) + len(
    {zlib.crc32(p.encode("utf-8")) % 2**18 for text in batch for p in pieces_of(text)})
print(f"64 SmSA texts use at most {rows_used:,} of the table's rows")
# --8<-- [end:exercise-3]
