"""What every benchmark test checks of its generated tables: they are a fresh render of the recorded results."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def assert_generated_files_match(benchmark: ModuleType, results: dict, update_outputs: bool) -> None:
    """`benchmark` is a benchmarks/*.py module with render(), write_pages(), GENERATED and RESULTS."""
    expected = benchmark.render(results)
    if update_outputs:
        benchmark.write_pages(results)
    folder = benchmark.GENERATED.relative_to(ROOT)
    script = Path(benchmark.__file__).relative_to(ROOT)
    stale = [name for name, text in expected.items() if not (benchmark.GENERATED / name).exists()
             or (benchmark.GENERATED / name).read_text(encoding="utf-8") != text]
    assert not stale, (f"{folder}/{', '.join(stale)} differ from a fresh render of "
                       f"{benchmark.RESULTS.relative_to(ROOT)}: run `python {script} --render-only`")
    extra = sorted({p.name for p in benchmark.GENERATED.iterdir()} - expected.keys())
    assert not extra, f"{folder}/ has files the benchmark does not write: {extra}"
