"""The README stays true: its taxonomy table, its code, the files it names and the CI command."""

from __future__ import annotations

import re
from pathlib import Path

from mcip.taxonomy import markdown_table

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_taxonomy_table_is_the_modules():
    assert markdown_table() in README


def test_python_blocks_compile():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        compile(block, "README.md", "exec")


def test_named_files_exist():
    paths = set(
        re.findall(
            r"\b((?:recipes|accelerate_configs|benchmarks|train|data_gen|mcip)/[\w./-]+\.(?:ya?ml|py))",
            README,
        )
    )
    assert len(paths) > 10
    missing = sorted(p for p in paths if not (REPO / p).exists() and "<" not in p)
    assert not missing, missing


def test_the_two_commands_come_first_and_ci_runs_the_test_command():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, re.M)
