"""Run a tutorial snippet section by section and record what each section prints.

A snippet is a plain script whose code lives in named sections:

    # --8<-- [start:train]
    ...
    # --8<-- [end:train]

Pages include the sections with pymdownx.snippets, so the code a reader sees is the code this runner executes.
The parent side (`run_snippet`) starts a fresh interpreter per snippet (no state leaks between tutorials) and
enforces a timeout; the child side (`python tools/snippet_runner.py SNIPPET RESULT.json`) executes the sections
in order, with their real file name and line numbers, so a traceback points at the snippet itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

try:
    from tools import page_values
except ImportError:  # the child process, started as `python tools/snippet_runner.py`
    import page_values

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "snippets"
GENERATED = ROOT / "docs" / "generated"
FIGURE_SUFFIXES = {".svg", ".png"}

SECTION_MARK = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[\s*(start|end)\s*:\s*([a-z][-_0-9a-z]*)\s*\]\s*$")
CONFIG_LINE = re.compile(r"^#\s*tutorial-test:(.*)$")
# Defaults, overridable per file with a first-line comment such as `# tutorial-test: timeout=300 rtol=0.1`.
# `volatile=TEXT`: on printed lines containing TEXT (timings, speed-ups) only the words are compared, not numbers.
# `args=A,B,...`: command-line arguments (sys.argv[1:]) for a snippet that is a script with options.
# `after=NAME`: the suite runs snippets/NAME.py first and starts this one in a copy of its working folder
#   (e.g. a script that fine-tunes the checkpoint another page saved).
# `volatile_values=A,B`: values shown in a page's prose (tools/page_values.py) that are timings: a run checks that
#   they are still recorded, not that they are the same number.
DEFAULTS = {"timeout": 120.0, "rtol": 0.05, "atol": 0.01, "volatile": "", "args": "", "after": "",
            "volatile_values": ""}
TEXT_SETTINGS = {"volatile", "args", "after", "volatile_values"}


class SnippetError(Exception):
    """A snippet file breaks the section contract; the message names file and line."""


@dataclass
class Section:
    name: str
    first_line: int  # 1-based line of the first code line (after the start marker)
    code: str


@dataclass
class RunResult:
    outputs: dict[str, str] = field(default_factory=dict)  # section -> what it printed
    figures: list[Path] = field(default_factory=list)
    error: str | None = None  # formatted failure, naming file, line and section
    seconds: float = 0.0
    values: dict = field(default_factory=dict)  # variable -> value, for the names pages show in their prose
    environment: dict = field(default_factory=dict)  # python, torch, ... versions and the date of the run


def relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def read_config(path: Path) -> dict:
    """Settings from the optional `# tutorial-test: key=value ...` comment on the first line."""
    config = dict(DEFAULTS)
    lines = path.read_text(encoding="utf-8").splitlines()
    match = CONFIG_LINE.match(lines[0]) if lines else None
    if match:
        for item in match.group(1).split():
            key, _, value = item.partition("=")
            if key not in DEFAULTS or not value:
                raise SnippetError(f"{relative(path)}, line 1: unknown setting {item!r}; known: {sorted(DEFAULTS)}")
            config[key] = value if key in TEXT_SETTINGS else float(value)
    if config["after"] and not (SNIPPETS / f"{config['after']}.py").is_file():
        raise SnippetError(f"{relative(path)}, line 1: after={config['after']}: no snippets/{config['after']}.py")
    return config


def snippet_args(config: dict) -> list[str]:
    return [arg for arg in config["args"].split(",") if arg]


def parse_sections(path: Path) -> list[Section]:
    """Split a snippet into its sections; any code outside a section is an error (readers would never see it)."""
    where = relative(path)
    sections: list[Section] = []
    current: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        mark = SECTION_MARK.match(line)
        if mark:
            kind, name = mark.groups()
            if kind == "start":
                if current:
                    raise SnippetError(f"{where}, line {number}: section '{name}' starts inside section '{current}'")
                if any(s.name == name for s in sections):
                    raise SnippetError(f"{where}, line {number}: section '{name}' is defined twice")
                current, start, body = name, number + 1, []
            else:
                if name != current:
                    raise SnippetError(f"{where}, line {number}: end of section '{name}' but '{current}' is open")
                sections.append(Section(name, start, "\n".join(body) + "\n"))
                current = None
        elif current:
            body.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):  # comments outside sections are fine
            raise SnippetError(f"{where}, line {number}: code outside any section is never shown on a page")
    if current:
        raise SnippetError(f"{where}: section '{current}' (line {start - 1}) is never closed")
    if not sections:
        raise SnippetError(f"{where}: no sections; mark code with '# --8<-- [start:name]' / '# --8<-- [end:name]'")
    return sections


# --------------------------------------------------------------------------- child side


def forbid_network() -> None:
    """Tutorials run offline: any connection beyond this machine raises instead of silently downloading."""
    import socket

    connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and sock.family in (socket.AF_INET, socket.AF_INET6):
            if host not in ("localhost", "::1") and not host.startswith("127."):
                raise ConnectionRefusedError(f"network access attempted to {address!r}: tutorials must run offline")
        return connect(sock, address)

    socket.socket.connect = guarded


def scalar(value):
    """A value a sentence can show: a plain bool, int, float or str (numpy and torch scalars are unwrapped)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    return value if isinstance(value, (bool, int, float, str)) else None


def environment() -> dict:
    """What produced these outputs: Python and the libraries the snippet imported, and today's date."""
    import datetime
    import platform
    from importlib.metadata import version

    found = {"python": platform.python_version(), "date": datetime.date.today().isoformat()}
    for package in ("torch", "transformers", "tokenizers"):
        if package in sys.modules:
            found[package] = version(package)
    return found


def record_values(namespace: dict, names: list[str], where: str) -> tuple[dict, str | None]:
    """The values of `names` in the finished snippet's namespace, or an error naming the first that is unusable."""
    values = {}
    for name in names:
        if name not in namespace:
            return values, f"{where}: a page shows {{{{ {Path(where).stem}.{name} }}}}, but the snippet has no variable '{name}'"
        value = scalar(namespace[name])
        if value is None:
            return values, (f"{where}: a page shows '{name}', which is a {type(namespace[name]).__name__}; "
                            "only a number or a string can stand in a sentence")
        values[name] = value
    return values, None


def execute(path: Path, result_file: Path, value_names: list[str] = ()) -> int:
    """Run every section in one namespace, as `python snippet.py` would, recording stdout per section, then the
    values of `value_names` (the variables pages show in their prose) as the finished script left them."""
    forbid_network()
    sys.path.insert(0, str(path.parent))
    sys.argv = [str(path), *snippet_args(read_config(path))]
    namespace = {"__name__": "__main__", "__file__": str(path)}
    state: dict = {"outputs": {}, "section": None, "error": None}
    with contextlib.suppress(ImportError):  # stable SVG ids, so regenerated figures do not churn in git
        import matplotlib

        matplotlib.rcParams["svg.hashsalt"] = "dlnlp"
        # Text as text, not as one path per glyph: a figure is about half the bytes, and its words can be searched
        # and selected. The browser draws them in the page's sans-serif font.
        matplotlib.rcParams["svg.fonttype"] = "none"

    def save() -> None:
        result_file.write_text(json.dumps(state), encoding="utf-8")

    for section in parse_sections(path):
        state["section"] = section.name
        save()  # the parent reads this to name the section that hung
        # Pad with newlines so that tracebacks and linecache report the snippet's real line numbers.
        code = compile("\n" * (section.first_line - 1) + section.code, str(path), "exec")
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - report everything, including SystemExit
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
            line = frames[-1].lineno if frames else section.first_line
            state["error"] = (
                f"{relative(path)}, line {line}, in section '{section.name}': {type(exc).__name__}: {exc}\n\n"
                + "".join(traceback.format_exception(exc))
            )
            state["outputs"][section.name] = buffer.getvalue()
            save()
            return 1
        state["outputs"][section.name] = buffer.getvalue()
    state["section"] = None
    state["values"], state["error"] = record_values(namespace, list(value_names), relative(path))
    state["environment"] = environment()
    save()
    return 1 if state["error"] else 0


# --------------------------------------------------------------------------- parent side


def run_snippet(path: Path, workdir: Path, timeout: float | None = None,
                value_names: list[str] | None = None) -> RunResult:
    """Run one snippet in a fresh interpreter inside `workdir` (where its figures land). `value_names`: the
    variables to record for the prose of pages (default: those the pages in docs/ show)."""
    timeout = timeout or read_config(path)["timeout"]
    if value_names is None:
        value_names = page_values.requested(path.stem)
    parse_sections(path)  # fail early, with file and line, before starting a process
    result_file = workdir / ".snippet-result.json"
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1",
           "SOURCE_DATE_EPOCH": "0"}  # no timestamps in saved figures
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, str(path), str(result_file), ",".join(value_names)],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        state = json.loads(result_file.read_text()) if result_file.exists() else {}
        return RunResult(
            outputs=state.get("outputs", {}),
            error=f"{relative(path)}: timed out after {timeout:g} s in section '{state.get('section')}'"
            " (raise it with a first-line comment '# tutorial-test: timeout=SECONDS')",
            seconds=time.perf_counter() - started,
        )
    seconds = time.perf_counter() - started
    if not result_file.exists():
        return RunResult(error=f"{relative(path)}: the runner died before starting:\n{proc.stderr}", seconds=seconds)
    state = json.loads(result_file.read_text())
    figures = sorted(p for p in workdir.iterdir() if p.suffix in FIGURE_SUFFIXES)
    error = state["error"]
    if proc.returncode and not error:
        error = f"{relative(path)}: exited with status {proc.returncode} in section '{state['section']}':\n{proc.stderr}"
    return RunResult(outputs=state["outputs"], figures=figures, error=error, seconds=seconds,
                     values=state.get("values", {}), environment=state.get("environment", {}))


# --------------------------------------------------------------------------- recorded outputs

HEADER = "# Generated by `pytest --update-outputs` from snippets/{snippet}, section '{section}'. Do not edit.\n"
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def render_output(snippet: Path, section: str, text: str) -> str:
    """The recorded file: a header, then the output as a named section that pages include."""
    body = text if text.endswith("\n") else text + "\n"
    return (HEADER.format(snippet=snippet.name, section=section)
            + "--8<-- [start:output]\n" + body + "--8<-- [end:output]\n")


def parse_recorded(path: Path) -> str:
    """The output stored in a recorded file, without its header and markers."""
    text = path.read_text(encoding="utf-8")
    start, end = "--8<-- [start:output]\n", "--8<-- [end:output]\n"
    if start not in text or not text.endswith(end):
        raise SnippetError(f"{relative(path)}: not a recorded output file (markers missing); regenerate it")
    return text[text.index(start) + len(start): -len(end)]


def write_recorded(snippet: Path, result: RunResult, generated: Path = GENERATED) -> None:
    """Replace the snippet's generated folder with this run's outputs and figures."""
    folder = generated / snippet.stem
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for section, text in result.outputs.items():
        if text.strip():
            (folder / f"{section}.txt").write_text(render_output(snippet, section, text), encoding="utf-8")
    for figure in result.figures:
        (folder / figure.name).write_bytes(figure.read_bytes())
    (folder / page_values.VALUES_FILE).write_text(
        page_values.render(snippet.stem, result.values, result.environment), encoding="utf-8")


def check_values(snippet: Path, result: RunResult, rtol: float, atol: float, generated: Path = GENERATED,
                 volatile_values: str = "") -> list[str]:
    """The values recorded for the prose still match this run (numbers within tolerance; timings only exist), and
    the libraries that produced them are the installed ones."""
    where = relative(snippet)
    recorded = page_values.read(snippet.stem, generated)
    path = relative(generated / snippet.stem / page_values.VALUES_FILE)
    if recorded is None:
        return [f"{where}: {path} is missing"]
    problems = []
    timings = {name for name in volatile_values.split(",") if name}
    for name, value in result.values.items():
        if name not in recorded["values"]:
            problems.append(f"{where}: a page shows '{name}', but {path} does not record it")
            continue
        old = recorded["values"][name]
        if name in timings or (isinstance(value, (int, float)) and not isinstance(value, bool)
                               and isinstance(old, (int, float)) and abs(value - old) <= atol + rtol * abs(old)):
            continue
        if value != old:
            problems.append(f"{where}: '{name}' is {value!r}, but the pages show the recorded {old!r} ({path})")
    for name in sorted(set(recorded["values"]) - set(result.values)):
        problems.append(f"{path}: stale value '{name}', no page shows it any more")
    for package in page_values.PACKAGES:
        # Only a version that differs is a drift. A package one run imported and the other did not is not: a
        # snippet whose sentence vectors come from the embedding cache never loads transformers.
        versions = recorded["environment"].get(package), result.environment.get(package)
        if None not in versions and versions[0] != versions[1]:
            problems.append(f"{path}: recorded with {package} {recorded['environment'].get(package)}, this run used "
                            f"{result.environment.get(package)}")
    return problems


def check_recorded(snippet: Path, result: RunResult, rtol: float, atol: float,
                   generated: Path = GENERATED, volatile: str = "", volatile_values: str = "") -> list[str]:
    """Every way the recorded files disagree with this run, each naming the file and section."""
    folder = generated / snippet.stem
    where = relative(snippet)
    problems = []
    for section, text in result.outputs.items():
        path = folder / f"{section}.txt"
        if not path.exists():
            if text.strip():
                problems.append(f"{where}, section '{section}': prints output but {relative(path)} is missing")
            continue
        if not text.strip():
            problems.append(f"{where}, section '{section}': printed nothing, but {relative(path)} records output")
            continue
        difference = compare_output(parse_recorded(path), text, rtol, atol, volatile)
        if difference:
            problems.append(f"{where}, section '{section}': output drifted from {relative(path)}: {difference}")
    problems += check_values(snippet, result, rtol, atol, generated, volatile_values)
    expected_files = ({f"{s}.txt" for s, t in result.outputs.items() if t.strip()} | {f.name for f in result.figures}
                      | {page_values.VALUES_FILE})
    recorded_files = {p.name for p in folder.iterdir()} if folder.exists() else set()
    for name in sorted(recorded_files - expected_files):
        problems.append(f"{relative(folder / name)}: stale, this run of {where} did not produce it")
    for name in sorted({f.name for f in result.figures} - recorded_files):
        problems.append(f"{where}: saved figure {name}, but {relative(folder / name)} is missing")
    return problems


def compare_output(expected: str, actual: str, rtol: float, atol: float, volatile: str = "") -> str | None:
    """None when equal up to number tolerance, else a message naming the first differing line."""
    exp_lines, act_lines = expected.rstrip("\n").splitlines(), actual.rstrip("\n").splitlines()
    if len(exp_lines) != len(act_lines):
        return f"{len(exp_lines)} lines recorded, {len(act_lines)} printed"
    for number, (exp, act) in enumerate(zip(exp_lines, act_lines), start=1):
        if NUMBER.sub("#", exp).rstrip() != NUMBER.sub("#", act).rstrip():
            return f"line {number}: recorded {exp!r}, printed {act!r}"
        if volatile and volatile in exp:
            continue  # a timing: it differs on every run and every machine, only its wording is checked
        for e, a in zip(NUMBER.findall(exp), NUMBER.findall(act)):
            if abs(float(a) - float(e)) > atol + rtol * abs(float(e)):
                return f"line {number}: number {a} differs from recorded {e} (tolerance {atol:g} + {rtol:g}*|x|)"
    return None


if __name__ == "__main__":
    names = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else []
    sys.exit(execute(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), names))
