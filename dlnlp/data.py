"""Load the tutorial datasets as pandas DataFrames with two columns: `text` and `label`.

    >>> from dlnlp import data
    >>> train = data.load("smsa", "train")   # columns: text, label
    >>> data.labels("smsa")
    ['negative', 'neutral', 'positive']

Every file is checked against its SHA-256 (listed in `SHA256` and in data/README.md) the first
time it is read, and a malformed row raises `DataError` naming the file and the line, so a
corrupted or edited file can never silently change a tutorial's results.

Where the files are read from, see `data_dir()`.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["DATASETS", "SHA256", "DataError", "DatasetSpec", "data_dir", "labels", "load", "read_rows"]

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is stored on disk."""

    files: dict[str, str]  # split -> path relative to the data folder
    delimiter: str  # "," (CSV) or "\t" (TSV)
    columns: tuple[str, ...]  # the fields of each row, in file order
    has_header: bool  # True: the first line repeats `columns`
    text_column: str  # which field holds the text ("tweet" in EmoT)
    labels: tuple[str, ...]  # label names, sorted alphabetically so the order never depends on the data


DATASETS: dict[str, DatasetSpec] = {
    # IndoNLU EmoT: Indonesian tweets, 5 emotions.
    "emot": DatasetSpec(
        files={s: f"indonlu/emot/{s}_preprocess.csv" for s in SPLITS},
        delimiter=",",
        columns=("label", "tweet"),
        has_header=True,
        text_column="tweet",
        labels=("anger", "fear", "happy", "love", "sadness"),
    ),
    # IndoNLU SmSA: Indonesian reviews and comments, 3 sentiments. No header line.
    "smsa": DatasetSpec(
        files={s: f"indonlu/smsa/{s}_preprocess.tsv" for s in SPLITS},
        delimiter="\t",
        columns=("text", "label"),
        has_header=False,
        text_column="text",
        labels=("negative", "neutral", "positive"),
    ),
    # NusaX-senti, English and Indonesian: the same sentences, translated, with the same labels.
    "nusax_en": DatasetSpec(
        files={s: f"nusax/english/{s}.csv" for s in SPLITS},
        delimiter=",",
        columns=("id", "text", "label"),
        has_header=True,
        text_column="text",
        labels=("negative", "neutral", "positive"),
    ),
    "nusax_id": DatasetSpec(
        files={s: f"nusax/indonesian/{s}.csv" for s in SPLITS},
        delimiter=",",
        columns=("id", "text", "label"),
        has_header=True,
        text_column="text",
        labels=("negative", "neutral", "positive"),
    ),
}

# The source of truth for the file contents; data/README.md lists the same digests (a test checks it).
SHA256: dict[str, str] = {
    "indonlu/emot/train_preprocess.csv": "51bb4e77d989004d0ca49c158f404d7eda956015a18b805401f7dee9b4d85fc1",
    "indonlu/emot/valid_preprocess.csv": "3cba3d7b2cc3afa5cdd452a13df2498ff8a32b420f59ed10a48e41a452c98f50",
    "indonlu/emot/test_preprocess.csv": "e983b8e4b079a3b76f299cc801305f1098e35281f5b95636432981a2f2a1b461",
    "indonlu/smsa/train_preprocess.tsv": "50f38ceed9b31521bf1581e126620532cc9b790712938159a2cdcf6906977a9b",
    "indonlu/smsa/valid_preprocess.tsv": "6ab41ddc9d58a35086f05ebd2e209c74cb03d87d4f51d6abdfba674eafbefa74",
    "indonlu/smsa/test_preprocess.tsv": "4e8016daa8e4e1b193f2a28a79d3a7804dd4e3f926a3ab7e8a64264f5f416a6f",
    "nusax/english/train.csv": "d11297019c1f39c6a9bc855cf8bebd54aebd6c9c3e0e945cb8cb6a7999350e94",
    "nusax/english/valid.csv": "76ca81930332a857ee8c1a5d05a1523f4d91783d313a80bccb39836d80ad2655",
    "nusax/english/test.csv": "63b49ae7c8fa9c72013dbc29477c9ca6b9f82e510f65df88a05635e36f4a979e",
    "nusax/indonesian/train.csv": "698c4802111085c14fbe35122957e1145338d307bcc295764026a23095a32984",
    "nusax/indonesian/valid.csv": "4049c4a53017e08db72c72e1907345bfdfc19385481c58f54fe4637073d813f9",
    "nusax/indonesian/test.csv": "43b612ed6fde972c752ab9fa8b2ce290d9ffa06b176b732fcef2a947cb94a161",
}

# The repository's data/ folder, found from this file so that any working directory works.
REPO_DATA_DIR = Path(__file__).resolve().parents[1] / "data"
# Where a notebook opened outside the repository keeps the files it downloads.
CACHE_DIR = Path.home() / ".cache" / "dlnlp" / "data"

_verified: set[Path] = set()  # files whose checksum already matched in this process


class DataError(ValueError):
    """A data file is corrupted, edited or malformed. The message names the file (and line)."""


def data_dir() -> Path:
    """The folder the data files are read from.

    1. `$DLNLP_DATA_DIR`, if set;
    2. else the repository's `data/` folder, if this package sits in a checkout;
    3. else `~/.cache/dlnlp/data`, filled on demand from `$DLNLP_DATA_URL`.
    """
    if env := os.environ.get("DLNLP_DATA_DIR"):
        return Path(env).expanduser()
    if REPO_DATA_DIR.is_dir():
        return REPO_DATA_DIR
    return CACHE_DIR


def labels(name: str) -> list[str]:
    """The label names of dataset `name`, in alphabetical order (index i is class i)."""
    return list(_spec(name).labels)


def load(name: str, split: str) -> pd.DataFrame:
    """Load one split ("train", "valid" or "test") of dataset `name` as columns `text`, `label`.

    Rows keep the file's order; `label` holds the label name (a string), see `labels(name)`.
    """
    spec = _spec(name)
    if split not in spec.files:
        raise ValueError(f"unknown split {split!r} for {name!r}; expected one of {list(spec.files)}")
    path = _verified_file(spec.files[split])
    rows = read_rows(path, name)
    return pd.DataFrame([(text, label) for _line, text, label in rows], columns=["text", "label"])


def read_rows(path: Path, name: str) -> list[tuple[int, str, str]]:
    """Parse `path` in the format of dataset `name`; return (line, text, label) per row.

    `line` is the 1-based line of the file where the row starts (the header is line 1).
    Raises DataError, naming the file and line, on a malformed row or an unknown label.
    This does not check the SHA-256: `load` does that before calling it.
    """
    spec = _spec(name)
    where = _display(path)
    # In the TSV a quote is an ordinary character: a stray `"` must not swallow tabs and newlines.
    quoting = csv.QUOTE_NONE if spec.delimiter == "\t" else csv.QUOTE_MINIMAL
    kind = "tab-separated" if spec.delimiter == "\t" else "comma-separated"
    text_at = spec.columns.index(spec.text_column)
    label_at = spec.columns.index("label")

    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        # strict=True turns sloppy quoting into an error instead of a silently mangled row.
        reader = csv.reader(f, delimiter=spec.delimiter, quoting=quoting, strict=True)
        start = 1  # the line where the next row starts; a quoted field may span several lines
        try:
            for fields in reader:
                if spec.has_header and start == 1:
                    if tuple(fields) != spec.columns:
                        raise DataError(
                            f"{where}, line 1: expected header {','.join(spec.columns)}, got {','.join(fields)}"
                        )
                elif len(fields) != len(spec.columns):
                    raise DataError(
                        f"{where}, line {start}: expected {len(spec.columns)} {kind} fields "
                        f"({', '.join(spec.columns)}), got {len(fields)}"
                    )
                else:
                    text, label = fields[text_at], fields[label_at]
                    if label not in spec.labels:
                        raise DataError(
                            f"{where}, line {start}: unknown label {label!r} (expected one of {list(spec.labels)})"
                        )
                    if not text.strip():
                        raise DataError(f"{where}, line {start}: empty text")
                    rows.append((start, text, label))
                start = reader.line_num + 1
        except csv.Error as err:  # e.g. "unexpected end of data": a quote that is never closed
            raise DataError(f"{where}, line {start}: {err} (is a quote left open?)") from None
    return rows


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}")
    return DATASETS[name]


def _display(path: Path) -> str:
    """The path as the reader would type it: relative to the working directory when possible."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):  # outside the working directory, or it no longer exists
        return str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified_file(relpath: str) -> Path:
    """The local path of `relpath`, downloaded if needed, with its checksum verified once per process."""
    path = data_dir() / relpath
    if not path.exists():
        if data_dir() == REPO_DATA_DIR:
            # A file missing from a checkout is a bug to fix, not something to paper over by downloading.
            raise FileNotFoundError(f"{_display(path)} is missing from the repository's data folder")
        _download(relpath, path)
    if path.resolve() not in _verified:
        expected, got = SHA256[relpath], _sha256(path.read_bytes())
        if got != expected:
            raise DataError(
                f"{_display(path)}: SHA-256 mismatch (expected {expected}, got {got}); "
                "the file is corrupted or was edited"
            )
        _verified.add(path.resolve())
    return path


def _download(relpath: str, dest: Path) -> None:
    """Fetch `relpath` from the published repository into `dest`, verifying it before saving."""
    base_url = os.environ.get("DLNLP_DATA_URL")
    if not base_url:
        raise FileNotFoundError(
            f"{dest} not found. Set DLNLP_DATA_URL to the raw-file URL of the published repository "
            "(the generated notebooks set it for you) to download the data, "
            "or set DLNLP_DATA_DIR to a folder that already holds the data files."
        )
    url = f"{base_url.rstrip('/')}/data/{relpath}"
    with urllib.request.urlopen(url, timeout=60) as response:
        payload = response.read()
    expected, got = SHA256[relpath], _sha256(payload)
    if got != expected:
        raise DataError(f"{url}: SHA-256 mismatch (expected {expected}, got {got}); the download is corrupted")
    # Write to a temporary file and rename it, so an interrupted download never leaves a partial file.
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _verified.add(dest.resolve())
