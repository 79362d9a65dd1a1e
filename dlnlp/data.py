"""Load the tutorial datasets: text classification as pandas DataFrames with two columns, `text` and `label`;
sequence labelling as lists of sentences, each a pair (tokens, tags).

    >>> from dlnlp import data
    >>> train = data.load("smsa", "train")   # columns: text, label
    >>> data.labels("smsa")
    ['negative', 'neutral', 'positive']
    >>> tokens, tags = data.load_tagged("nerp", "train")[0]   # two lists of the same length
    >>> data.tags("nerp")[:3]
    ['B-EVT', 'B-FNB', 'B-IND']

Every file is checked against its SHA-256 (listed in `SHA256` and in data/README.md) the first
time it is read, and a malformed row or line raises `DataError` naming the file and the line, so a
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

__all__ = [
    "DATASETS",
    "SHA256",
    "TAGGED_DATASETS",
    "DataError",
    "DatasetSpec",
    "NUSAX_LOCAL",
    "TaggedSpec",
    "data_dir",
    "labels",
    "load",
    "load_tagged",
    "read_rows",
    "read_tagged",
    "tags",
]

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


# The ten local languages of NusaX-senti: ISO 639-3 code -> folder under data/nusax/ (Winata et al., 2023).
NUSAX_LOCAL: dict[str, str] = {
    "ace": "acehnese",  # Acehnese
    "ban": "balinese",  # Balinese
    "bjn": "banjarese",  # Banjarese
    "bug": "buginese",  # Buginese
    "jav": "javanese",  # Javanese
    "mad": "madurese",  # Madurese
    "min": "minangkabau",  # Minangkabau
    "nij": "ngaju",  # Ngaju
    "sun": "sundanese",  # Sundanese
    "bbc": "toba_batak",  # Toba Batak
}

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
    # NusaX-senti in the ten local languages, named by ISO 639-3 code: the same sentences and labels again.
    **{
        f"nusax_{code}": DatasetSpec(
            files={s: f"nusax/{folder}/{s}.csv" for s in SPLITS},
            delimiter=",",
            columns=("id", "text", "label"),
            has_header=True,
            text_column="text",
            labels=("negative", "neutral", "positive"),
        )
        for code, folder in NUSAX_LOCAL.items()
    },
}



@dataclass(frozen=True)
class TaggedSpec:
    """How one sequence-labelling dataset is stored: CoNLL style, one `token<TAB>tag` per line and a blank
    line after each sentence."""

    files: dict[str, str]  # split -> path relative to the data folder
    tags: tuple[str, ...]  # the tag set, sorted so the order never depends on the data


_ENTITY_TYPES = ("EVT", "FNB", "IND", "PLC", "PPL")  # event, food and beverage, product or brand, place, person
_POS_TAGS = "$$$ ADJ ADK ADV ART CCN CSN INT KUA NEG NNO NNP NUM PAR PPO PRI PRK PRN PRR SYM UNS VBE VBI VBL VBP VBT"

TAGGED_DATASETS: dict[str, TaggedSpec] = {
    # IndoNLU NERP: named entities in Indonesian news (PROSA), BIO tags.
    "nerp": TaggedSpec(
        files={s: f"indonlu/nerp/{s}_preprocess.txt" for s in SPLITS},
        tags=tuple(sorted([f"{bi}-{t}" for bi in "BI" for t in _ENTITY_TYPES] + ["O"])),
    ),
    # IndoNLU POSP: parts of speech of the same sentences; every tag is written with a B- prefix.
    "posp": TaggedSpec(
        files={s: f"indonlu/posp/{s}_preprocess.txt" for s in SPLITS},
        tags=tuple(sorted(f"B-{t}" for t in _POS_TAGS.split())),
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
    "nusax/acehnese/train.csv": "eeb72a3e29d6129af729a9112e296afe0b7bae3c4f6a2590d5532bafe57f4597",
    "nusax/acehnese/valid.csv": "1752fc429c3f7b12f29a72dd68d0e3939b21a40f389dd5d0eb5432c6d036b308",
    "nusax/acehnese/test.csv": "0a38ac2352ec2194602f97acf5b25c78f432d84c9c9bee60c294506e55c18f1c",
    "nusax/balinese/train.csv": "e37accf45aec8381c7465b2ca2df75500c0c5991941f18a6f0e109d8a81e5c5b",
    "nusax/balinese/valid.csv": "1055ca278cc03de4743605c1bfac04261b4f6514fbbdba86587c2e3076e80197",
    "nusax/balinese/test.csv": "d10c82f294bd72b0ee7077400424522e5c39fa477f83ffabb2f7652f84ed71fa",
    "nusax/banjarese/train.csv": "0e15c5826401ca8649c51e67a5c1ba6b0345d66897954e96ac073a85e717ee7a",
    "nusax/banjarese/valid.csv": "999a0bef291cde263777d64bde9d31b46fbf1de957a64e73f0fd39b8674784b1",
    "nusax/banjarese/test.csv": "cca90ae2c130ebd41f38a3d04acda1cc79b3795d5e43575a41d369c7326679d9",
    "nusax/buginese/train.csv": "23818aa30bf4ae743c540b007231c925e6f00f4dfd3ed8e38972b5663d601027",
    "nusax/buginese/valid.csv": "5425f886a49379cffd114802b0d3ef07de048d3f7e1647046a2c6dabd7284b0f",
    "nusax/buginese/test.csv": "369fedd3463d406e98b88dbc7cce9a3ce1ac9d3947aad627f17826e68ee0b179",
    "nusax/javanese/train.csv": "46a88ac0f2f0b09b42b7fb840d80f727cc5b2a558440cd29d3b69178c24853c5",
    "nusax/javanese/valid.csv": "ff8df9ec279e505c914bf7c367db5f10fcba672da8a0f7a32f8b701670e7a89c",
    "nusax/javanese/test.csv": "ad73d2ee75854c4104c9188a84c757caa07f826e108a384ade7fbf0f6dcc53a2",
    "nusax/madurese/train.csv": "0cc23e1d5f29cc94f30916e07f32809dd3995a8bbae2d19e78d4f88673a91c05",
    "nusax/madurese/valid.csv": "e1dc6c01128a40c13903e14ec3c51987ac47dacbbc527bd20e178294278296ad",
    "nusax/madurese/test.csv": "daf0d571942b7a716583f2f92257501278ab29f8a315a9074fc4aa4a63869be1",
    "nusax/minangkabau/train.csv": "96f11a39631fded49d04562e520199bcc9dcdbd07bfaee505753521d82388437",
    "nusax/minangkabau/valid.csv": "bca87a7e812cf13ac31c4fa9f0d4ac4c6dd2ba00999abd1687f01a1d89f37f3f",
    "nusax/minangkabau/test.csv": "da055aabc671f0d702f73c50a90fde58ac0916ce30c4a23b6b0a589950909062",
    "nusax/ngaju/train.csv": "db52af95941e56846296f9adcc58fa94cd41cd5ab17ce9ee10f20f3116d991ad",
    "nusax/ngaju/valid.csv": "a3061f5238852dcf296d92ebd103f1530e6e5832511e5a0a38fb85facd05fc80",
    "nusax/ngaju/test.csv": "f8cd78d440d7d4cdc4fa556e80a546028fbfb0eaa173ff5156a39c3d42e9ca4f",
    "nusax/sundanese/train.csv": "b525aefac4d9819add0375b8c0db49516f19b57fbf6e6fc5afda3069895f2168",
    "nusax/sundanese/valid.csv": "ca5bbbef8e7d8d085300e716e570b4f2a964a761b392a3612e5547dd7b5d0444",
    "nusax/sundanese/test.csv": "887e940330e59716ff741ad11c4bccad6f94752c46de44858b32d46a96ef7d48",
    "nusax/toba_batak/train.csv": "f6fed53a064607541c12a7f25dd16c5dc47b145ff7a75d844e18e3e50f80063f",
    "nusax/toba_batak/valid.csv": "af3fdec7f6319b0e38e0ee7defb168ca741c1a56fac3dc3aa7a57dbab50967ea",
    "nusax/toba_batak/test.csv": "11d15c3ab4079d7d97e80bfc1ce1a4245bd1909a3fa40e15806c1c6334a99309",
    "indonlu/nerp/train_preprocess.txt": "0361c2b4a40298f00c027ad80b3c29a1f2a14c3d6fea91ec292820af25821a2d",
    "indonlu/nerp/valid_preprocess.txt": "5e08679148ada73a809a52fbe9695ac8d9b0acfe4e3e8f686fa6ab16048b4863",
    "indonlu/nerp/test_preprocess.txt": "c262b1bfd339e58ee347e1f7fd8fbc4584c61ed6e36e5da4786539611c80aa03",
    "indonlu/posp/train_preprocess.txt": "667d16f7e3e424fc1bf3d1aff8d99a0045ff07ca382c467f612d9ddc420803a1",
    "indonlu/posp/valid_preprocess.txt": "9af8289324391466c282132a8b47323b38e84daa3f0dd9b0d972da0a9f0970a9",
    "indonlu/posp/test_preprocess.txt": "bc3f87f79d3753598f3d83218405c29468d9cc8aab02482710110657f5dd36b6",
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


def tags(name: str) -> list[str]:
    """The tag set of sequence-labelling dataset `name`, sorted (index i is class i)."""
    return list(_tagged_spec(name).tags)


def load_tagged(name: str, split: str) -> list[tuple[list[str], list[str]]]:
    """Load one split ("train", "valid" or "test") of sequence-labelling dataset `name`.

    Returns the sentences in file order, each a pair (tokens, tags) of two lists of the same length.
    """
    spec = _tagged_spec(name)
    if split not in spec.files:
        raise ValueError(f"unknown split {split!r} for {name!r}; expected one of {list(spec.files)}")
    path = _verified_file(spec.files[split])
    return [(tokens, tags_) for _line, tokens, tags_ in read_tagged(path, name)]


def read_tagged(path: Path, name: str) -> list[tuple[int, list[str], list[str]]]:
    """Parse the CoNLL-style file `path` of dataset `name`; return (line, tokens, tags) per sentence.

    `line` is the 1-based line where the sentence starts. A blank line ends a sentence (several in a row
    end it once); the last sentence counts even when no blank line or newline follows it.
    Raises DataError, naming the file and line, on a line that is not `token<TAB>tag` with a non-empty
    token and a tag of the dataset. This does not check the SHA-256: `load_tagged` does that before calling it.
    """
    spec = _tagged_spec(name)
    where = _display(path)
    sentences: list[tuple[int, list[str], list[str]]] = []
    start, tokens, tags_ = 0, [], []
    # newline="": a "\r" from Windows line endings stays in the line and is reported, never silently dropped.
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.removesuffix("\n")
            if not line:
                if tokens:
                    sentences.append((start, tokens, tags_))
                    tokens, tags_ = [], []
                continue
            tabs = line.count("\t")
            if tabs != 1:
                found = "no tab" if tabs == 0 else f"{tabs} tabs"
                raise DataError(f"{where}, line {lineno}: expected token<TAB>tag, found {found}")
            token, tag = line.split("\t")
            if not token.strip():
                raise DataError(f"{where}, line {lineno}: empty token")
            if not tag:
                raise DataError(f"{where}, line {lineno}: empty tag")
            if tag not in spec.tags:
                raise DataError(f"{where}, line {lineno}: unknown tag {tag!r} (expected one of {list(spec.tags)})")
            if not tokens:
                start = lineno
            tokens.append(token)
            tags_.append(tag)
    if tokens:  # the file ended without a blank line after its last sentence
        sentences.append((start, tokens, tags_))
    return sentences


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        hint = f"; {name!r} is a sequence-labelling dataset: use load_tagged()" if name in TAGGED_DATASETS else ""
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}{hint}")
    return DATASETS[name]


def _tagged_spec(name: str) -> TaggedSpec:
    if name not in TAGGED_DATASETS:
        hint = f"; {name!r} is a text-classification dataset: use load()" if name in DATASETS else ""
        raise ValueError(f"unknown sequence-labelling dataset {name!r}; expected one of {list(TAGGED_DATASETS)}{hint}")
    return TAGGED_DATASETS[name]


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
