"""Benchmarks are one package with one way in, ``python -m benchmarks.<name>``: siblings are imported as
``benchmarks.<name>``, nothing edits ``sys.path``, and no two scripts import each other."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))
NAMES = {p.stem for p in SCRIPTS}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            if node.module == "benchmarks":
                found |= {f"benchmarks.{a.name}" for a in node.names}
    return found


def test_no_sys_path_edits_and_siblings_by_package_name():
    for path in SCRIPTS:
        assert "sys.path" not in path.read_text(), path.name
        bare = {m for m in _imports(path) if m.split(".")[0] in NAMES}
        assert not bare, f"{path.name} imports {sorted(bare)}: use `from benchmarks.<name> import ...`"


def test_no_import_cycles_between_benchmarks():
    graph = {
        p.stem: {m.split(".")[1] for m in _imports(p) if m.startswith("benchmarks.") and m.count(".") == 1}
        for p in SCRIPTS
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ())
        )

    assert not [name for name in graph if reaches(name, name, {name})]


def test_the_gpu_worker_passes_its_trainer_to_sft_main():
    import inspect

    from train import sft

    param = inspect.signature(sft.main).parameters["trainer_cls"]
    assert param.kind is param.KEYWORD_ONLY and param.default is sft.GuardianTrainer
    assert "sft.GuardianTrainer =" not in (REPO / "benchmarks/gpu_scale.py").read_text()
