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


# -- every command the README shows --------------------------------------------------------------------------------

_ENTRY = {  # console script -> module
    "mcip": "mcip",
    "mcip-data": "data_gen",
    "mcip-eval": "train.evaluate",
    "mcip-export": "train.export",
    "mcip-hub": "train.hub",
    "mcip-guard": "guard.cli",
}


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith(("#", "export ", "srun ")):
                commands.append(line)
    return commands


def _target(command: str) -> tuple[list[str], list[str]] | None:
    """(argv that prints the entry point's help, the part of the command after it) for Python entry points."""
    import shlex
    import sys

    words = shlex.split(command)
    for i, word in enumerate(words):
        if word == "-m" and i + 1 < len(words) and words[i + 1] != "accelerate.commands.launch":
            module = words[i + 1]
            if module.split(".")[0] in ("mcip", "data_gen", "train", "guard", "benchmarks"):
                return [sys.executable, "-m", module], words[i + 2 :]
        if word.endswith(".py") and word.startswith(("benchmarks/", "train/")):
            return [sys.executable, str(REPO / word)], words[i + 1 :]
        if word in _ENTRY and i == 0:
            return [sys.executable, "-m", _ENTRY[word]], words[1:]
    return None


def test_every_python_command_in_the_readme_exists_and_takes_its_flags():
    """Each `python -m ...`, console script and benchmark the README shows starts, and every --flag it passes is
    one its --help lists (a renamed flag or module breaks this test, not a user)."""
    import subprocess

    import pytest

    checked = 0
    helps: dict[tuple, str] = {}
    for command in readme_commands():
        target = _target(command)
        if target is None:
            continue
        argv, words = target
        if "--" in words:  # what follows `--` is the upstream server's command line (mcip-guard proxy)
            words = words[: words.index("--")]
        sub = [
            w for w in words[:1] if re.fullmatch(r"[a-z][a-z-]+", w)
        ]  # a subcommand (mcip-guard proxy, ...)
        key = tuple(argv + sub)
        if key not in helps:
            proc = subprocess.run(
                [*argv, *sub, "--help"], capture_output=True, text=True, cwd=REPO, timeout=300
            )
            assert proc.returncode == 0, f"{command!r}: {proc.stderr[-800:]}"
            helps[key] = proc.stdout
        for flag in [w.split("=")[0] for w in words if re.fullmatch(r"--[a-z][\w.-]*(=\S*)?", w)]:
            if flag not in helps[key] and flag != "--config":  # TrlParser reads --config before argparse
                pytest.fail(f"README command {command!r}: {flag} is not in `{' '.join(key[1:])} --help`")
        checked += 1
    assert checked >= 10, checked


def test_every_make_target_in_the_readme_parses():
    import shlex
    import subprocess

    targets = 0
    for command in readme_commands():
        words = shlex.split(command)
        if words[0] != "make":
            continue
        proc = subprocess.run(
            ["make", "-n", *words[1:]], capture_output=True, text=True, cwd=REPO, timeout=120
        )
        assert proc.returncode == 0, f"{command!r}: {proc.stderr[-800:]}"
        targets += 1
    assert targets >= 4, targets
