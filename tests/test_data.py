"""Tests of dlnlp.data: the files, their checksums, the parser's errors and the download fallback."""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from dlnlp import data

REPO_DATA = Path(__file__).resolve().parents[1] / "data"

# Data rows (header not counted), measured once and stated in data/README.md.
ROW_COUNTS = {
    ("emot", "train"): 3521,
    ("emot", "valid"): 440,
    ("emot", "test"): 440,
    ("smsa", "train"): 11000,
    ("smsa", "valid"): 1260,
    ("smsa", "test"): 500,
    ("nusax_en", "train"): 500,
    ("nusax_en", "valid"): 100,
    ("nusax_en", "test"): 400,
    ("nusax_id", "train"): 500,
    ("nusax_id", "valid"): 100,
    ("nusax_id", "test"): 400,
    **{(f"nusax_{code}", split): n for code in data.NUSAX_LOCAL for split, n in zip(data.SPLITS, (500, 100, 400))},
}

# Sentences and tokens of the sequence-labelling files, measured once and stated in data/README.md.
SENTENCE_COUNTS = {(name, split): n for name in ("nerp", "posp") for split, n in zip(data.SPLITS, (6720, 840, 840))}
TOKEN_COUNTS = {(name, split): n for name in ("nerp", "posp") for split, n in zip(data.SPLITS, (156409, 19629, 19952))}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the repository's data/, whatever the caller's environment says."""
    for var in ("DLNLP_DATA_DIR", "DLNLP_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    # The local test server must be reached directly, never through a proxy.
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def copy_file(relpath: str, root: Path, edit=None) -> Path:
    """Copy data/<relpath> to root/<relpath>, optionally passing its text through `edit`."""
    dest = root / relpath
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = (REPO_DATA / relpath).read_text(encoding="utf-8")
    dest.write_bytes((edit(text) if edit else text).encode("utf-8"))
    return dest


def named_file(message: str, sep: str) -> Path:
    """The file an error message starts with (shown relative to the working directory when inside it)."""
    return Path(message.split(sep)[0]).resolve()


def replace_line(text: str, lineno: int, new: str) -> str:
    lines = text.split("\n")
    lines[lineno - 1] = new
    return "\n".join(lines)


# --- the files in the repository ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "split"), list(ROW_COUNTS))
def test_every_split_loads(name: str, split: str) -> None:
    df = data.load(name, split)
    assert list(df.columns) == ["text", "label"]
    assert len(df) == ROW_COUNTS[name, split]
    assert set(df["label"]) == set(data.labels(name))  # every label occurs, and only known ones
    assert df["text"].str.strip().str.len().gt(0).all()


def test_rows_keep_file_order() -> None:
    df = data.load("nusax_en", "test")
    first = (REPO_DATA / "nusax/english/test.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first.startswith("411,")
    assert first.endswith(f",{df['label'].iloc[0]}")
    assert df["text"].iloc[0] in first


def test_quoted_field_spanning_lines_is_one_row() -> None:
    # EmoT train lines 264-266 are a single quoted field (see data/README.md, Known issues).
    rows = data.read_rows(REPO_DATA / "indonlu/emot/train_preprocess.csv", "emot")
    starts = [line for line, _, _ in rows]
    assert 264 in starts and 265 not in starts and 266 not in starts and 267 in starts
    assert starts[-1] == 3524


def test_smsa_has_one_row_per_line() -> None:
    # The TSV is read with quoting off, so quote characters can never merge lines.
    for split in data.SPLITS:
        path = REPO_DATA / data.DATASETS["smsa"].files[split]
        assert len(data.load("smsa", split)) == path.read_bytes().count(b"\n")


def test_labels_are_fixed_and_sorted() -> None:
    assert data.labels("emot") == ["anger", "fear", "happy", "love", "sadness"]
    for name in ("smsa", "nusax_en", "nusax_id"):
        assert data.labels(name) == ["negative", "neutral", "positive"]
    data.labels("smsa").append("oops")  # a caller's change must not leak into the module
    assert data.labels("smsa") == ["negative", "neutral", "positive"]


def test_nusax_english_and_indonesian_are_parallel() -> None:
    for split in data.SPLITS:
        assert data.load("nusax_en", split)["label"].tolist() == data.load("nusax_id", split)["label"].tolist()


def test_nusax_local_languages_are_named_by_iso_639_3_code() -> None:
    assert data.NUSAX_LOCAL == {
        "ace": "acehnese", "ban": "balinese", "bjn": "banjarese", "bug": "buginese", "jav": "javanese",
        "mad": "madurese", "min": "minangkabau", "nij": "ngaju", "sun": "sundanese", "bbc": "toba_batak",
    }
    for code, folder in data.NUSAX_LOCAL.items():
        assert data.DATASETS[f"nusax_{code}"].files == {s: f"nusax/{folder}/{s}.csv" for s in data.SPLITS}
        assert data.labels(f"nusax_{code}") == ["negative", "neutral", "positive"]


def test_nusax_twelve_languages_are_parallel() -> None:
    """Every language has the same ids in the same order and the same label on each row (data/README.md)."""
    import csv

    for split in data.SPLITS:
        def ids(folder: str) -> list[str]:
            with open(REPO_DATA / f"nusax/{folder}/{split}.csv", newline="", encoding="utf-8") as f:
                return [row["id"] for row in csv.DictReader(f)]

        reference = data.load("nusax_id", split)
        for code, folder in data.NUSAX_LOCAL.items():
            local = data.load(f"nusax_{code}", split)
            assert ids(folder) == ids("indonesian"), (code, split)
            assert local["label"].tolist() == reference["label"].tolist(), (code, split)
            assert (local["text"] != reference["text"]).mean() > 0.9, (code, split)  # translated, not copied


def test_load_works_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data.data_dir() == REPO_DATA
    assert len(data.load("nusax_id", "valid")) == 100


# --- sequence labelling: NERP and POSP --------------------------------------------------------------


def bio_violations(sentences: list[tuple[list[str], list[str]]]) -> int:
    """How many I-X tags follow neither B-X nor I-X (a sentence starts after an implicit O)."""
    count = 0
    for _tokens, tags in sentences:
        for prev, tag in zip(["O", *tags], tags):
            count += tag.startswith("I-") and prev[2:] != tag[2:]
    return count


@pytest.mark.parametrize(("name", "split"), list(SENTENCE_COUNTS))
def test_every_tagged_split_loads(name: str, split: str) -> None:
    sentences = data.load_tagged(name, split)
    assert len(sentences) == SENTENCE_COUNTS[name, split]
    assert sum(len(tokens) for tokens, _ in sentences) == TOKEN_COUNTS[name, split]
    assert all(len(tokens) == len(tags) > 0 for tokens, tags in sentences)
    assert all(token.strip() for tokens, _ in sentences for token in tokens)
    assert {tag for _, tags in sentences for tag in tags} == set(data.tags(name))  # every tag occurs, only known ones


def test_tags_are_fixed_and_sorted() -> None:
    entity_types = ("EVT", "FNB", "IND", "PLC", "PPL")
    assert data.tags("nerp") == [f"B-{t}" for t in entity_types] + [f"I-{t}" for t in entity_types] + ["O"]
    assert len(data.tags("posp")) == 26 and all(tag.startswith("B-") for tag in data.tags("posp"))
    for name in data.TAGGED_DATASETS:
        assert data.tags(name) == sorted(data.tags(name))
    data.tags("nerp").append("oops")  # a caller's change must not leak into the module
    assert "oops" not in data.tags("nerp")


def test_readme_states_the_tag_counts() -> None:
    readme = (REPO_DATA / "README.md").read_text(encoding="utf-8")
    stated = {
        tag: tuple(map(int, counts))
        for tag, *counts in re.findall(r"^\| `([^`]+)` \| (\d+) \| (\d+) \| (\d+) \|", readme, flags=re.MULTILINE)
    }
    for name in data.TAGGED_DATASETS:
        measured = {tag: [] for tag in data.tags(name)}
        for split in data.SPLITS:
            flat = [tag for _, tags in data.load_tagged(name, split) for tag in tags]
            for tag in measured:
                measured[tag].append(flat.count(tag))
        assert {tag: stated.get(tag) for tag in measured} == {tag: tuple(c) for tag, c in measured.items()}, name
    assert set(stated) == set(data.tags("nerp")) | set(data.tags("posp"))  # no other tag is listed


def test_nerp_and_posp_are_the_same_sentences() -> None:
    for split in data.SPLITS:
        nerp = [tokens for tokens, _ in data.load_tagged("nerp", split)]
        posp = [tokens for tokens, _ in data.load_tagged("posp", split)]
        assert nerp == posp


def test_nerp_bio_violations_are_the_ones_the_readme_states() -> None:
    # The data has I-X tags that follow neither B-X nor I-X; data/README.md (Known issues) gives these numbers.
    counts = {split: bio_violations(data.load_tagged("nerp", split)) for split in data.SPLITS}
    assert counts == {"train": 101, "valid": 18, "test": 11}
    readme = (REPO_DATA / "README.md").read_text(encoding="utf-8")
    assert "**NERP has 130 ill-formed BIO tags.**" in readme
    assert "**101 in train**" in readme and "**18 in valid**" in readme and "**11 in test**" in readme
    assert bio_violations([(["a", "b", "c"], ["B-PPL", "I-PPL", "I-PLC"]), (["d"], ["I-EVT"])]) == 2


def test_readme_states_the_tokens_with_spaces() -> None:
    counts = [sum(" " in token for tokens, _ in data.load_tagged("posp", s) for token in tokens) for s in data.SPLITS]
    readme = (REPO_DATA / "README.md").read_text(encoding="utf-8")
    assert f"({counts[0]} tokens in train, {counts[1]} in valid, {counts[2]} in test)" in readme
    assert counts == [668, 75, 87]


def test_sentences_start_on_the_lines_reported() -> None:
    # Every sentence is followed by exactly one blank line, so each starts len(previous) + 1 lines later.
    path = REPO_DATA / "indonlu/posp/valid_preprocess.txt"
    sentences = data.read_tagged(path, "posp")
    starts = [line for line, _, _ in sentences]
    assert starts[0] == 1
    assert starts[1:] == [line + len(tokens) + 1 for line, tokens, _ in sentences[:-1]]
    lines = path.read_text(encoding="utf-8").split("\n")
    assert all(lines[line - 1] == f"{tokens[0]}\t{tags[0]}" for line, tokens, tags in sentences)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.removesuffix("\n"),  # no blank line after the last sentence
        lambda t: t.removesuffix("\n\n"),  # not even a final newline
        lambda t: "\n" + t.replace("\n\n", "\n\n\n") + "\n",  # extra blank lines are no empty sentences
    ],
    ids=["no-final-blank-line", "no-final-newline", "extra-blank-lines"],
)
def test_sentence_boundaries_are_robust(edit, tmp_path: Path) -> None:
    relpath = "indonlu/nerp/valid_preprocess.txt"
    edited = copy_file(relpath, tmp_path, edit)
    expected = [(tokens, tags) for _, tokens, tags in data.read_tagged(REPO_DATA / relpath, "nerp")]
    assert [(tokens, tags) for _, tokens, tags in data.read_tagged(edited, "nerp")] == expected


# --- checksums ----------------------------------------------------------------------------------


def test_sha256_matches_the_files_on_disk() -> None:
    on_disk = {
        p.relative_to(REPO_DATA).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in REPO_DATA.rglob("*")
        if p.suffix in (".csv", ".tsv", ".txt")
    }
    assert on_disk == data.SHA256
    specs = [*data.DATASETS.values(), *data.TAGGED_DATASETS.values()]
    listed = {path for spec in specs for path in spec.files.values()}
    assert listed == set(data.SHA256)


def test_readme_table_matches_sha256_and_row_counts() -> None:
    readme = (REPO_DATA / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE)
    tagged = re.findall(r"^\| `([^`]+)` \| (\d+) \| (\d+) \| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE)
    assert {path: sha for path, _, sha in table} | {path: sha for path, _, _, sha in tagged} == data.SHA256
    assert len(table) + len(tagged) == len(data.SHA256)  # no file listed twice
    counts = {data.DATASETS[n].files[s]: c for (n, s), c in ROW_COUNTS.items()}
    assert {path: int(rows) for path, rows, _ in table} == counts
    sentences = {data.TAGGED_DATASETS[n].files[s]: c for (n, s), c in SENTENCE_COUNTS.items()}
    tokens = {data.TAGGED_DATASETS[n].files[s]: c for (n, s), c in TOKEN_COUNTS.items()}
    assert {path: int(n) for path, n, _, _ in tagged} == sentences
    assert {path: int(n) for path, _, n, _ in tagged} == tokens


def test_readme_states_the_nusax_smsa_overlap() -> None:
    readme = (REPO_DATA / "README.md").read_text(encoding="utf-8")

    def key(text: str) -> str:  # the comparison the README describes
        return re.sub(r"\W+", "", text.lower())

    smsa_train = set(data.load("smsa", "train")["text"].map(key))
    overlap = int(data.load("nusax_id", "test")["text"].map(key).isin(smsa_train).sum())
    assert overlap == 217
    assert "217 of the 400 NusaX Indonesian test sentences" in readme


def test_checksum_mismatch_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relpath = "indonlu/emot/train_preprocess.csv"
    copy_file(relpath, tmp_path, edit=lambda t: t.replace("happy,", "sadness,", 1))  # still well-formed
    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match=r"train_preprocess\.csv: SHA-256 mismatch \(expected 51bb4e77") as err:
        data.load("emot", "train")
    assert named_file(str(err.value), ": SHA-256") == (tmp_path / relpath).resolve()
    assert "corrupted or was edited" in str(err.value)


def test_corrupted_tagged_file_fails_its_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relpath = "indonlu/nerp/test_preprocess.txt"
    copy_file(relpath, tmp_path, edit=lambda t: t.replace("\tB-PPL\n", "\tB-PLC\n", 1))  # still well-formed
    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match=r"test_preprocess\.txt: SHA-256 mismatch \(expected c262b1bf") as err:
        data.load_tagged("nerp", "test")
    assert named_file(str(err.value), ": SHA-256") == (tmp_path / relpath).resolve()


def test_checksum_is_verified_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_file("nusax/english/valid.csv", tmp_path)
    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(data, "_sha256", lambda b: calls.append(1) or hashlib.sha256(b).hexdigest())
    data.load("nusax_en", "valid")
    data.load("nusax_en", "valid")
    assert len(calls) == 1


# --- malformed rows ------------------------------------------------------------------------------

MALFORMED = [
    (  # an extra tab
        "smsa",
        "indonlu/smsa/train_preprocess.tsv",
        lambda t: replace_line(t, 12, "teks dengan\ttab tambahan\tpositive"),
        r"line 12: expected 2 tab-separated fields \(text, label\), got 3$",
    ),
    (  # a misspelt label
        "emot",
        "indonlu/emot/valid_preprocess.csv",
        lambda t: replace_line(t, 5, "happyy,hari ini senang sekali"),
        r"line 5: unknown label 'happyy' \(expected one of \['anger', 'fear', 'happy', 'love', 'sadness'\]\)$",
    ),
    (  # after the 3-line row at 264-266, the 2nd row below it starts on line 268
        "emot",
        "indonlu/emot/train_preprocess.csv",
        lambda t: replace_line(t, 268, "love"),
        r"line 268: expected 2 comma-separated fields \(label, tweet\), got 1$",
    ),
    (  # a missing field
        "nusax_id",
        "nusax/indonesian/test.csv",
        lambda t: replace_line(t, 3, "729,Iya benar"),
        r"line 3: expected 3 comma-separated fields \(id, text, label\), got 2$",
    ),
    (  # an empty text
        "nusax_en",
        "nusax/english/train.csv",
        lambda t: replace_line(t, 2, "219,,neutral"),
        r"line 2: empty text$",
    ),
    (  # a wrong header
        "nusax_en",
        "nusax/english/valid.csv",
        lambda t: replace_line(t, 1, "id,sentence,label"),
        r"line 1: expected header id,text,label",
    ),
    (  # a quote that is never closed swallows the rest of the file
        "nusax_en",
        "nusax/english/valid.csv",
        lambda t: replace_line(t, 100, '999,"unterminated,neutral'),
        r"line 100: .*(EOF|end of data)",
    ),
]


MALFORMED_TAGGED = [
    (  # a space where the tab should be
        "nerp",
        "indonlu/nerp/valid_preprocess.txt",
        lambda t: replace_line(t, 3, "kebersamaan O"),
        r"line 3: expected token<TAB>tag, found no tab$",
    ),
    (  # one tab too many
        "posp",
        "indonlu/posp/train_preprocess.txt",
        lambda t: replace_line(t, 4, "kota\tB-NNO\tB-NNO"),
        r"line 4: expected token<TAB>tag, found 2 tabs$",
    ),
    (  # an empty token
        "nerp",
        "indonlu/nerp/test_preprocess.txt",
        lambda t: replace_line(t, 25, "\tO"),
        r"line 25: empty token$",
    ),
    (  # a token that is only spaces
        "posp",
        "indonlu/posp/valid_preprocess.txt",
        lambda t: replace_line(t, 2, "  \tB-PPO"),
        r"line 2: empty token$",
    ),
    (  # an empty tag
        "posp",
        "indonlu/posp/test_preprocess.txt",
        lambda t: replace_line(t, 20790, "kategori\t"),
        r"line 20790: empty tag$",
    ),
    (  # a tag from another tag set
        "nerp",
        "indonlu/nerp/train_preprocess.txt",
        lambda t: replace_line(t, 5, "manado\tB-LOC"),
        r"line 5: unknown tag 'B-LOC' \(expected one of \['B-EVT', 'B-FNB', .*, 'O'\]\)$",
    ),
    (  # a POS tag without its B- prefix
        "posp",
        "indonlu/posp/train_preprocess.txt",
        lambda t: replace_line(t, 163127, "nya\tPRK"),
        r"line 163127: unknown tag 'PRK' \(expected one of \['B-\$\$\$', .*\]\)$",
    ),
    (  # Windows line endings leave a carriage return in the tag
        "nerp",
        "indonlu/nerp/valid_preprocess.txt",
        lambda t: t.replace("\n", "\r\n"),
        r"line 1: unknown tag 'O\\r'",
    ),
]


@pytest.mark.parametrize(("name", "relpath", "edit", "message"), MALFORMED_TAGGED)
def test_malformed_tagged_line_names_file_and_line(name, relpath, edit, message, tmp_path: Path) -> None:
    bad = copy_file(relpath, tmp_path, edit)
    with pytest.raises(data.DataError, match=message) as err:
        data.read_tagged(bad, name)
    assert named_file(str(err.value), ", line ") == bad.resolve()


def test_load_tagged_reports_malformed_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An edited file whose checksum was (wrongly) updated still fails, at the parser, relative to the cwd.
    relpath = "indonlu/posp/valid_preprocess.txt"
    bad = copy_file(relpath, tmp_path / "data", lambda t: replace_line(t, 9, "la\tB-NNO\textra"))
    monkeypatch.setitem(data.SHA256, relpath, hashlib.sha256(bad.read_bytes()).hexdigest())
    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(data.DataError) as err:
        data.load_tagged("posp", "valid")
    assert str(err.value) == "data/indonlu/posp/valid_preprocess.txt, line 9: expected token<TAB>tag, found 2 tabs"


@pytest.mark.parametrize(("name", "relpath", "edit", "message"), MALFORMED)
def test_malformed_row_names_file_and_line(name, relpath, edit, message, tmp_path: Path) -> None:
    bad = copy_file(relpath, tmp_path, edit)
    with pytest.raises(data.DataError, match=message) as err:
        data.read_rows(bad, name)
    assert named_file(str(err.value), ", line ") == bad.resolve()


def test_malformed_row_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = copy_file("indonlu/smsa/train_preprocess.tsv", tmp_path / "data", lambda t: replace_line(t, 12, "a\tb\tc"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(data.DataError) as err:
        data.read_rows(bad, "smsa")
    assert str(err.value) == (
        "data/indonlu/smsa/train_preprocess.tsv, line 12: expected 2 tab-separated fields (text, label), got 3"
    )


def test_load_reports_malformed_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An edited file whose checksum was (wrongly) updated still fails, at the parser.
    relpath = "indonlu/smsa/test_preprocess.tsv"
    bad = copy_file(relpath, tmp_path, lambda t: replace_line(t, 7, "tidak enak\tnegatif"))
    monkeypatch.setitem(data.SHA256, relpath, hashlib.sha256(bad.read_bytes()).hexdigest())
    monkeypatch.setenv("DLNLP_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match=r"test_preprocess\.tsv, line 7: unknown label 'negatif'"):
        data.load("smsa", "test")


# --- unknown names --------------------------------------------------------------------------------


def test_unknown_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'sst2'.*'emot', 'smsa', 'nusax_en', 'nusax_id'"):
        data.load("sst2", "train")
    with pytest.raises(ValueError, match="unknown dataset"):
        data.labels("sst2")


def test_unknown_split_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown split 'dev' for 'smsa'.*'train', 'valid', 'test'"):
        data.load("smsa", "dev")
    with pytest.raises(ValueError, match=r"unknown split 'dev' for 'nerp'.*'train', 'valid', 'test'"):
        data.load_tagged("nerp", "dev")


def test_unknown_tagged_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown sequence-labelling dataset 'conll'.*'nerp', 'posp'\]$"):
        data.load_tagged("conll", "train")
    with pytest.raises(ValueError, match=r"unknown sequence-labelling dataset 'smsa'.*use load\(\)"):
        data.tags("smsa")
    with pytest.raises(ValueError, match=r"unknown dataset 'nerp'.*use load_tagged\(\)"):
        data.load("nerp", "train")


# --- where the files come from -----------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        QuietHandler.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path: Path):
    """A copy of the repository's data/ served on 127.0.0.1; yields (base_url, served root)."""
    root = tmp_path / "served"
    shutil.copytree(REPO_DATA, root / "data")
    QuietHandler.requests = []
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def outside_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend the package was installed without data/: files go to an empty cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(data, "REPO_DATA_DIR", tmp_path / "no-checkout" / "data")
    monkeypatch.setattr(data, "CACHE_DIR", cache)
    return cache


def test_download_fills_the_cache_once(server, outside_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, _ = server
    monkeypatch.setenv("DLNLP_DATA_URL", base_url + "/")
    assert data.data_dir() == outside_repo
    df = data.load("nusax_id", "valid")
    expected = data.read_rows(REPO_DATA / "nusax/indonesian/valid.csv", "nusax_id")
    assert df["text"].tolist() == [text for _line, text, _label in expected]
    cached = outside_repo / "nusax/indonesian/valid.csv"
    assert cached.read_bytes() == (REPO_DATA / "nusax/indonesian/valid.csv").read_bytes()
    assert [p.name for p in cached.parent.iterdir()] == ["valid.csv"]  # no temporary file left behind
    assert QuietHandler.requests == ["/data/nusax/indonesian/valid.csv"]
    assert data.load("nusax_id", "valid").equals(df)
    assert len(QuietHandler.requests) == 1  # the cached copy is used


def test_download_tagged_file(server, outside_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, _ = server
    monkeypatch.setenv("DLNLP_DATA_URL", base_url)
    relpath = "indonlu/posp/test_preprocess.txt"
    sentences = data.load_tagged("posp", "test")
    expected = data.read_tagged(REPO_DATA / relpath, "posp")
    assert sentences == [(tokens, tags) for _line, tokens, tags in expected]
    assert (outside_repo / relpath).read_bytes() == (REPO_DATA / relpath).read_bytes()
    assert QuietHandler.requests == [f"/data/{relpath}"]
    assert data.load_tagged("posp", "test") == sentences
    assert len(QuietHandler.requests) == 1  # the cached copy is used


def test_download_rejects_a_corrupted_file(server, outside_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, root = server
    served = root / "data/nusax/english/test.csv"
    served.write_bytes(served.read_bytes().replace(b"positive", b"negative", 1))
    monkeypatch.setenv("DLNLP_DATA_URL", base_url)
    with pytest.raises(data.DataError, match=r"/data/nusax/english/test\.csv: SHA-256 mismatch"):
        data.load("nusax_en", "test")
    assert QuietHandler.requests == ["/data/nusax/english/test.csv"]
    assert not outside_repo.exists() or not any(outside_repo.rglob("*.csv*"))  # nothing saved, not even a .part


def test_download_into_dlnlp_data_dir(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, _ = server
    target = tmp_path / "my-data"
    monkeypatch.setenv("DLNLP_DATA_DIR", str(target))
    monkeypatch.setenv("DLNLP_DATA_URL", base_url)
    assert len(data.load("emot", "valid")) == 440
    assert (target / "indonlu/emot/valid_preprocess.csv").is_file()


def test_missing_url_says_what_to_set(outside_repo: Path) -> None:
    with pytest.raises(FileNotFoundError, match="DLNLP_DATA_URL"):
        data.load("smsa", "valid")


def test_nothing_downloads_in_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 on loopback ("discard") has no HTTP server: any download attempt would fail loudly.
    monkeypatch.setenv("DLNLP_DATA_URL", "http://127.0.0.1:9")
    assert data.data_dir() == REPO_DATA
    assert len(data.load("nusax_en", "valid")) == 100


def test_download_a_local_language_file(server, outside_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The ten local languages download like the other files (a notebook outside the repository needs them).
    base_url, _ = server
    monkeypatch.setenv("DLNLP_DATA_URL", base_url)
    df = data.load("nusax_jav", "test")
    assert len(df) == 400
    assert (outside_repo / "nusax/javanese/test.csv").read_bytes() == (REPO_DATA / "nusax/javanese/test.csv").read_bytes()
    assert QuietHandler.requests == ["/data/nusax/javanese/test.csv"]
