"""Sentence embeddings from the pretrained multilingual encoder, computed once and cached on disk.

    >>> from dlnlp import encoder
    >>> vectors = encoder.embed(["Makanannya enak sekali.", "Pelayanannya lambat."])   # (2, 384) float32

`embed` does what the pretrained-Indonesian page shows step by step: "query: " + text, E5's tokenizer (cut at
`max_length` pieces), the model's last layer, the mean over the tokens (special tokens included, padding left
out) and L2 normalisation. Texts are sorted by length before batching, so a batch pads to similar lengths (on a
CPU most of the time goes to padding otherwise), and the vectors are returned in the original order.

Why a cache: the same sentences are embedded by several pages and by the benchmark, and a 12-layer model reads
about 30 to 60 sentences a second on 2 CPU cores. The vectors depend only on the model file (its SHA-256 is part
of the key), the prefix, the length limit, the layer and the texts themselves, so a cached result is reused only
when all of those are the same. The cache lives beside the converted model, in `<cache>/embeddings`
(`dlnlp.pretrained.cache_root`), outside the repository; delete the folder to recompute.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence

import numpy as np

from dlnlp import pretrained

__all__ = ["embed", "load"]

FORMAT = 1  # bump when the pooling code changes: old cache entries then no longer match


def load(cache_dir: str | os.PathLike | None = None):
    """(tokenizer, model) of multilingual-e5-small, converted on first use (`dlnlp.pretrained.convert`)."""
    from transformers import AutoModel, AutoTokenizer

    folder = pretrained.convert(cache_dir)
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()


def embed(texts: Sequence[str], *, prefix: str = "query: ", max_length: int = 128, layer: int = -1,
          batch_size: int = 32, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> np.ndarray:
    """L2-normalised mean-pooled vectors of `texts` from hidden layer `layer` (-1: the last), shape (n, 384).

    Cached in `<cache>/embeddings/<key>.npy`, where the key hashes the model's SHA-256, the settings and the texts.
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("embed needs at least one text")
    key = _key(texts, prefix=prefix, max_length=max_length, layer=layer)
    path = pretrained.cache_root(cache_dir) / "embeddings" / f"{key}.npy"
    if path.exists():
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = _compute(texts, prefix, max_length, layer, batch_size, cache_dir, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as tmp:
        np.save(tmp, vectors)
    os.replace(tmp.name, path)  # atomic: a reader sees the whole file or none
    return vectors


def _key(texts: list[str], **settings) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"model": pretrained.SHA256, "format": FORMAT, **settings}, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:32]


def _compute(texts: list[str], prefix: str, max_length: int, layer: int, batch_size: int,
             cache_dir: str | os.PathLike | None, progress: bool) -> np.ndarray:
    import torch
    from tqdm.auto import tqdm

    tokenizer, model = load(cache_dir)
    ids = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(piece_ids) for piece_ids in ids], kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
            outputs = model(**batch, output_hidden_states=layer != -1)
            hidden = outputs.last_hidden_state if layer == -1 else outputs.hidden_states[layer]
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1)
            out[rows] = torch.nn.functional.normalize(mean, dim=-1).numpy()
    return out

