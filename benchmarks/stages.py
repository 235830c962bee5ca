"""What the end-to-end benchmarks share: running one pipeline stage as the user would, logged, stopping on failure."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_stage(cmd: list[str], log: Path) -> None:
    """One stage as a subprocess in the repository, its output appended to ``log``; a failure stops the
    benchmark with the log's tail (the stage's own error message)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        fh.write(f"\n$ {shlex.join(cmd)}\n")
        fh.flush()
        env = {
            **os.environ,
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    if proc.returncode:
        sys.exit(f"failed: {shlex.join(cmd)}\n" + log.read_text()[-3000:])


def evaluate_stage(
    model: str,
    data: str,
    split: str,
    out: Path,
    log: Path,
    *,
    mode: str = "fast",
    protocol: str = "guardian",
    limit: int | None = None,
    batch_size: int = 8,
    seed: int | None = None,
    max_new: int | None = None,
) -> dict:
    """``python -m train.evaluate`` as a user runs it, into ``out``; a finished ``metrics.json`` there is reused,
    so an interrupted benchmark resumes where it stopped."""
    if not (out / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "train.evaluate", "--model", model, "--data", data, "--split", split]
        cmd += ["--protocol", protocol, "--mode", mode, "--output", str(out), "--batch-size", str(batch_size)]
        cmd += ["--limit", str(limit)] if limit is not None else []
        cmd += ["--seed", str(seed)] if seed is not None else []
        run_stage(cmd + (["--max-new-tokens", str(max_new)] if max_new else []), log)
    return json.loads((out / "metrics.json").read_text())
