"""What the end-to-end benchmarks share: running one pipeline stage as the user would, logged, stopping on failure."""

from __future__ import annotations

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
