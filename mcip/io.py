"""Atomic file and directory writes: a crash or a bad record never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temp file beside ``path``; rename it over ``path`` only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; the result should look like any other file
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, data: Any, **dump: Any) -> None:
    """``data`` as a JSON file at ``path``, written whole or not at all (never a half-written result), ending in a
    newline; ``dump`` goes to ``json.dump`` (``indent`` is 2 unless given)."""
    dump.setdefault("indent", 2)
    with atomic_write(path) as fh:
        json.dump(data, fh, **dump)
        fh.write("\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory beside ``path``; on success it replaces ``path`` (an old one is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def json_lines(fh, name: str) -> Iterator[tuple[str, Any, str | None]]:
    """``(where, object, error)`` for each non-blank line of a JSON-lines stream: ``where`` is ``name:line``, and
    ``error`` describes a line that is not JSON (the object is then None). Callers decide whether to stop or
    collect errors; the reading and the message are the same everywhere."""
    for lineno, line in enumerate(fh, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            yield where, json.loads(line), None
        except json.JSONDecodeError as err:
            yield where, None, f"{where}: invalid JSON ({err.msg} at column {err.colno})"
