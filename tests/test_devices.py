"""GPU code that a page shows is device-correct, proven without a GPU.

A model runs on a GPU only if every tensor its forward pass creates lands on the device of its input: a
`torch.arange(n)` without `device=` stays on the CPU and the first operation that meets a GPU tensor crashes.
On a CPU-only machine that bug is invisible, because every tensor is on the CPU anyway. So each model of every
snippet runs here on PyTorch's `meta` device (tensors with shapes but no data, a device that is not the CPU),
under a mode that looks at every torch call and reports the ones whose tensor arguments sit on different devices.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import traceback
import types
from pathlib import Path

import pytest
import torch
import torch.fx.experimental._config
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "snippets").glob("*.py")) + sorted((ROOT / "dlnlp").glob("*.py"))
# PyTorch's own API wants these arguments on the CPU whatever the device (the lengths of packed sequences).
HOST_ARGUMENT_OPS = {"_pack_padded_sequence", "pack_padded_sequence"}
# Small sizes for the constructor arguments that have no default.
SIZES = {"vocab_size": 50, "n_classes": 3, "num_classes": 3, "dim": 16, "hidden": 8, "channels": 8,
         "d_model": 16, "n_heads": 2, "max_len": 16, "d_ff": 32, "k": 1}


class DeviceTracker(TorchFunctionMode):
    """Records every torch call whose tensor arguments live on more than one device (CPU scalars are allowed:
    PyTorch moves 0-dim CPU tensors to any device). `host_copies` answers `.cpu()` on a meta input with the
    values the test put there, since meta tensors hold no data."""

    def __init__(self, host_copies: dict[int, torch.Tensor]):
        super().__init__()
        self.host_copies = host_copies
        self.problems: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name == "cpu" and args and id(args[0]) in self.host_copies:
            return self.host_copies[id(args[0])]
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        devices = {t.device.type for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if len(devices) > 1 and name not in HOST_ARGUMENT_OPS:
            self.problems.append(f"{where_in_our_code()}: {name}() mixes tensors on {sorted(devices)}")
            # Carry on as a GPU would not, so that one run reports every place, not only the first.
            args, kwargs = torch.utils._pytree.tree_map(
                lambda t: t.to("meta") if isinstance(t, torch.Tensor) else t, (args, kwargs))
        return func(*args, **kwargs)


def where_in_our_code() -> str:
    """'snippets/x.py, line N: <code>' of the innermost frame in our own files."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if path.parent.name in ("snippets", "dlnlp") and path.is_relative_to(ROOT):
            return f"{path.relative_to(ROOT)}, line {frame.lineno}: `{frame.line}`"
    return "inside PyTorch"


def is_constant(node: ast.expr) -> bool:
    """`PAD = 0`, `SIZES = (3, 4)`, `BUCKETS = 2**18`: an expression of literals only."""
    return all(isinstance(n, (ast.Constant, ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.operator,
                              ast.unaryop, ast.Load)) for n in ast.walk(node))


@functools.cache
def load_models(source: Path) -> dict[str, type]:
    """The nn.Module classes of a file, defined with its imports, functions and constants but none of its
    top-level work (loading data, training)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    kept = [node for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(node, ast.Assign)  # `PAD = 0` and `PAD, UNK = 0, 1`
                and all(isinstance(t, ast.Name) or (isinstance(t, ast.Tuple)
                                                    and all(isinstance(e, ast.Name) for e in t.elts))
                        for t in node.targets)
                and is_constant(node.value))]
    module = types.ModuleType(f"device_check_{source.stem}")
    module.__file__ = str(source)
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(source), "exec"), module.__dict__)
    return {name: obj for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == module.__name__}


def build(cls: type) -> nn.Module:
    required = [p.name for p in inspect.signature(cls).parameters.values() if p.default is inspect.Parameter.empty]
    return cls(**{name: SIZES[name] for name in required})


def example_inputs(model: nn.Module) -> list:
    """Arguments for forward(), chosen by its parameter names: a batch of 2 texts of 6 and 4 tokens."""
    ids = torch.tensor([[5, 9, 2, 7, 3, 8], [4, 6, 2, 7, 0, 0]])
    lengths = torch.tensor([6, 4])
    names = [p for p in inspect.signature(model.forward).parameters if p not in ("return_weights",)]
    by_name = {"ids": ids, "lengths": lengths, "offsets": torch.tensor([0, 6]), "length": 6,
               "x": torch.randn(2, 6, SIZES["d_model"]), "cache": None, "caches": None,  # no key/value cache
               "centre": ids[:, 0], "context": ids[:, 1], "negatives": ids[:, 2:]}  # skip-gram: word ids
    if names[:2] == ["ids", "offsets"]:
        by_name["ids"] = torch.cat([ids[0], ids[1, :4]])
    if names[:3] == ["query", "key", "value"]:
        x = torch.randn(2, 6, SIZES["d_model"])
        return [x, x, x]
    return [by_name[name] for name in names]


def run_on_meta(model: nn.Module, inputs: list) -> list[str]:
    """Forward and backward on the meta device; returns the device problems found."""
    model = model.to("meta").train()
    meta_inputs = [x.to("meta") if isinstance(x, torch.Tensor) else x for x in inputs]
    host_copies = {id(m): x for m, x in zip(meta_inputs, inputs) if isinstance(x, torch.Tensor)}
    with DeviceTracker(host_copies) as tracker:
        output = model(*meta_inputs)
        first = next(t for t in tree_leaves(output) if isinstance(t, torch.Tensor))
        if first.requires_grad:
            first.float().sum().backward()
    return tracker.problems


MODELS = [pytest.param(source, name, id=f"{source.name}:{name}")
          for source in SOURCES for name in load_models(source)]


@pytest.mark.parametrize(("source", "name"), MODELS)
def test_model_creates_its_tensors_on_the_input_device(source: Path, name: str) -> None:
    cls = load_models(source)[name]
    if "pack_padded_sequence" in inspect.getsource(cls):
        pytest.skip("packs sequences: the steps each text takes depend on the values of its lengths, which meta "
                    "tensors do not hold; no page runs this model on a GPU")
    try:
        model = build(cls)
    except NameError as missing:  # e.g. a module made of the layers of the pretrained model the page loaded
        pytest.skip(f"built from what the page computes at top level ({missing}), which this test does not run;"
                    " no page runs it on a GPU")
    # EmbeddingBag's padding_idx asks which ids are non-zero; meta tensors hold no values, so assume all are.
    with torch.fx.experimental._config.patch(meta_nonzero_assume_all_nonzero=True):
        problems = run_on_meta(model, example_inputs(model))
    assert not problems, (f"{source.relative_to(ROOT)}: {name} would crash on a GPU; create tensors with "
                          "device=ids.device:\n" + "\n".join(dict.fromkeys(problems)))


def test_every_snippet_model_is_checked() -> None:
    """The models the GPU pages run are among those checked (a rename must not drop them silently)."""
    checked = {f"{source.stem}:{name}" for source in SOURCES for name in load_models(source)}
    assert {"mixed_precision:TinyEncoder", "transformer_encoder:TransformerClassifier", "attention:AttentionClassifier",
            "compile:EncoderClassifier", "profiling:CNNClassifier", "distributed:BagOfEmbeddings"} <= checked


def test_the_tracker_catches_a_position_range_on_the_wrong_device() -> None:
    """The check has teeth: the bug issue #11 found in mixed_precision.py (positions without device=) is caught."""

    class Buggy(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.position = nn.Embedding(10, 4), nn.Embedding(8, 4)

        def forward(self, ids, lengths):
            return self.embed(ids) + self.position(torch.arange(ids.shape[1]))  # no device=: stays on the CPU

    problems = run_on_meta(Buggy(), [torch.tensor([[1, 2, 3]]), torch.tensor([3])])
    assert problems and "embedding" in problems[0]
