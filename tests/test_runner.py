"""The snippet runner fails loudly, naming file, line and section, for each kind of bad snippet."""

from pathlib import Path

import pytest

from tools.snippet_runner import (
    SnippetError, check_recorded, compare_output, parse_sections, read_config, relative, run_snippet, write_recorded,
)


def snippet(tmp_path: Path, text: str, name: str = "demo.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """# tutorial-test: timeout=30 rtol=0.1
# --8<-- [start:setup]
import math
# --8<-- [end:setup]

# --8<-- [start:show]
print(f"pi is {math.pi:.4f}")
print("done")
# --8<-- [end:show]
"""


def test_sections_config_and_output_are_recorded(tmp_path: Path) -> None:
    path = snippet(tmp_path, GOOD)
    assert [s.name for s in parse_sections(path)] == ["setup", "show"]
    assert read_config(path) == {"timeout": 30.0, "rtol": 0.1, "atol": 0.01, "volatile": "", "args": "", "after": "",
                                 "volatile_values": ""}
    result = run_snippet(path, tmp_path)
    assert result.error is None
    assert result.outputs == {"setup": "", "show": "pi is 3.1416\ndone\n"}


def test_args_setting_becomes_the_command_line(tmp_path: Path) -> None:
    path = snippet(tmp_path, "# tutorial-test: args=--dataset=smsa,--epochs=2\n" + GOOD.split("\n", 1)[1]
                   .replace('print("done")', "import sys; print(sys.argv[1:])"))
    result = run_snippet(path, tmp_path)
    assert result.error is None
    assert result.outputs["show"].endswith("['--dataset=smsa', '--epochs=2']\n")


def test_raising_snippet_names_file_line_and_section(tmp_path: Path) -> None:
    path = snippet(tmp_path, GOOD.replace('print("done")', "1 / 0"))
    result = run_snippet(path, tmp_path)
    assert result.error is not None
    assert "demo.py, line 8, in section 'show': ZeroDivisionError" in result.error
    assert result.outputs["show"] == "pi is 3.1416\n"  # what it printed before failing is kept


def test_hanging_snippet_times_out_naming_the_section(tmp_path: Path) -> None:
    path = snippet(tmp_path, GOOD.replace('print("done")', "import time\ntime.sleep(60)"))
    result = run_snippet(path, tmp_path, timeout=3)
    assert result.error is not None
    assert "timed out after 3 s in section 'show'" in result.error
    assert result.seconds < 30


def test_exit_is_reported_not_swallowed(tmp_path: Path) -> None:
    path = snippet(tmp_path, GOOD.replace('print("done")', "raise SystemExit(3)"))
    assert "in section 'show': SystemExit: 3" in run_snippet(path, tmp_path).error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", "demo.py, line 1: code outside any section"),
        ("# --8<-- [start:a]\nx = 1\n", "section 'a' (line 1) is never closed"),
        ("# --8<-- [start:a]\n# --8<-- [start:b]\n", "demo.py, line 2: section 'b' starts inside section 'a'"),
        ("# --8<-- [start:a]\n# --8<-- [end:b]\n", "line 2: end of section 'b' but 'a' is open"),
        ("# --8<-- [start:a]\n# --8<-- [end:a]\n# --8<-- [start:a]\n# --8<-- [end:a]\n", "line 3: section 'a' is defined twice"),
        ("# only a comment\n", "no sections"),
        ("# tutorial-test: timeuot=3\n", "line 1: unknown setting 'timeuot=3'"),
        ("# tutorial-test: after=no_such_page\n", "line 1: after=no_such_page: no snippets/no_such_page.py"),
    ],
)
def test_broken_section_markup_is_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = snippet(tmp_path, text)
    with pytest.raises(SnippetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_config(path)
        parse_sections(path)


def test_drifted_output_is_reported_with_section_and_line(tmp_path: Path) -> None:
    path = snippet(tmp_path, GOOD)
    generated = tmp_path / "generated"
    result = run_snippet(path, tmp_path)
    write_recorded(path, result, generated)
    assert check_recorded(path, result, 0.05, 0.01, generated) == []

    drifted = run_snippet(snippet(tmp_path, GOOD.replace('"done"', '"finished"')), tmp_path)
    problems = check_recorded(path, drifted, 0.05, 0.01, generated)
    assert len(problems) == 1
    assert "section 'show': output drifted from" in problems[0]
    assert "line 2: recorded 'done', printed 'finished'" in problems[0]

    silent = run_snippet(snippet(tmp_path, GOOD.replace('print(f"pi', 'str(f"pi').replace('print("done")', "")), tmp_path)
    assert any("printed nothing" in p for p in check_recorded(path, silent, 0.05, 0.01, generated))


def test_numbers_compare_within_tolerance() -> None:
    assert compare_output("f1 = 0.612\n", "f1 = 0.620\n", rtol=0.05, atol=0.01) is None
    assert "differs from recorded 0.612" in compare_output("f1 = 0.612\n", "f1 = 0.700\n", rtol=0.05, atol=0.01)
    assert "recorded 'shape (2, 3)'" in compare_output("shape (2, 3)\n", "shape [2, 3]\n", rtol=0, atol=0)
    assert "2 lines recorded, 1 printed" in compare_output("a\nb\n", "a\n", rtol=0, atol=0)
    # Lines with the volatile word keep their wording checked, not their numbers.
    assert compare_output("speed-up 2.1x\n", "speed-up 3.4x\n", rtol=0, atol=0, volatile="speed-up") is None
    assert compare_output("speed-up 2.1x\n", "slowdown 3.4x\n", rtol=0, atol=0, volatile="speed-up") is not None
    assert compare_output("f1 0.61\n", "f1 0.91\n", rtol=0, atol=0, volatile="speed-up") is not None


def test_network_access_fails_the_snippet(tmp_path: Path) -> None:
    code = 'import urllib.request\nurllib.request.urlopen("http://93.184.216.34/", timeout=5)'
    result = run_snippet(snippet(tmp_path, GOOD.replace('print("done")', code)), tmp_path)
    assert "network access attempted to ('93.184.216.34', 80)" in result.error


# ---------------------------------------------------------------------------------------------------------------
# Values shown in the prose of a page (tools/page_values.py)
# ---------------------------------------------------------------------------------------------------------------
MEASURES = """# tutorial-test: timeout=30 volatile_values=seconds
# --8<-- [start:measure]
import numpy as np
score = np.float64(0.8125)
seconds = 1.5
# --8<-- [end:measure]
"""


def test_values_a_page_shows_are_recorded_and_checked(tmp_path: Path) -> None:
    from tools import page_values

    path = snippet(tmp_path, MEASURES)
    generated = tmp_path / "generated"
    result = run_snippet(path, tmp_path, value_names=["score", "seconds"])
    assert result.error is None
    assert result.values == {"score": 0.8125, "seconds": 1.5} and type(result.values["score"]) is float
    assert {"python", "date"} <= result.environment.keys()
    write_recorded(path, result, generated)
    assert page_values.read("demo", generated)["values"] == {"score": 0.8125, "seconds": 1.5}
    assert check_recorded(path, result, 0.0, 0.001, generated, volatile_values="seconds") == []

    result.values["seconds"] = 99.0  # a timing: only its presence is checked
    assert check_recorded(path, result, 0.0, 0.001, generated, volatile_values="seconds") == []
    result.values["score"] = 0.85  # a score that moved: the sentence on the page is stale
    problems = check_recorded(path, result, 0.0, 0.001, generated, volatile_values="seconds")
    assert problems == [f"{relative(path)}: 'score' is 0.85, but the pages show the recorded 0.8125 "
                        f"({relative(generated / 'demo' / 'values.json')})"]


def test_a_library_version_that_differs_is_reported_one_not_imported_is_not(tmp_path: Path) -> None:
    path = snippet(tmp_path, MEASURES)
    generated = tmp_path / "generated"
    result = run_snippet(path, tmp_path, value_names=["score", "seconds"])
    result.environment["torch"] = "2.0.0"
    write_recorded(path, result, generated)
    result.environment["torch"] = "2.13.0"  # the recorded outputs came from another torch: stale
    values_file = relative(generated / "demo" / "values.json")
    assert check_recorded(path, result, 0.0, 0.001, generated, volatile_values="seconds") == [
        f"{values_file}: recorded with torch 2.0.0, this run used 2.13.0"]
    del result.environment["torch"]  # this run never imported torch (say, its results came from a cache)
    assert check_recorded(path, result, 0.0, 0.001, generated, volatile_values="seconds") == []


def test_a_value_the_snippet_does_not_define_names_the_snippet(tmp_path: Path) -> None:
    path = snippet(tmp_path, MEASURES)
    result = run_snippet(path, tmp_path, value_names=["accuracy"])
    assert result.error is not None and "has no variable 'accuracy'" in result.error and "demo.py" in result.error


def test_markers_are_filled_outside_code_and_fail_naming_page_and_line(tmp_path: Path) -> None:
    from tools import page_values

    generated = tmp_path / "generated"
    (generated / "hello_world").mkdir(parents=True)
    (generated / "hello_world" / "values.json").write_text(
        page_values.render("hello_world", {"f1": 0.61234, "n": 1234}, {"python": "3.11.7", "date": "2026-12-02"}))
    page = "Scores {{ hello_world.f1:.3f }} on {{ hello_world.n:, }} tweets.\n\n```text\n{{ hello_world.f1 }}\n```\n"
    assert page_values.fill(page, "p.md", generated) == "Scores 0.612 on 1,234 tweets.\n\n```text\n{{ hello_world.f1 }}\n```\n"
    with pytest.raises(page_values.MarkerError, match=r"p.md, line 2: \{\{ hello_world.recall \}\}: no recorded value"):
        page_values.fill("Fine.\nRecall {{ hello_world.recall }}.\n", "p.md", generated)
    with pytest.raises(page_values.MarkerError, match=r"p.md, line 1: .*snippets/nosuch.py, which does not exist"):
        page_values.fill("{{ nosuch.f1 }}", "p.md", generated)
