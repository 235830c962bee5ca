"""The audit log: every reviewed call as one interchange record (``mcip/record.py``), appended to a JSONL file.

Each record is the session so far, ending with the proposed call as the guardian saw it (a log awaiting review,
the guardian's own training format), with the guard's verdict and what happened next in ``meta.guard``. Records of
one session share ``meta.session``; a denied call stays in later records with the error result the agent got. So
the file is what ``mcip validate``, ``train/evaluate.py`` and ``data_gen`` read; ``label`` is the guardian's own
prediction (``meta.label_source: guardian``) until a person relabels it.

Writes are appends of one whole line under an exclusive lock (several proxies may share a file); a write that
fails half-way is truncated back, so the file never holds a half-written line. Before writing, argument values
whose keys match the policy's redaction list are replaced, and values of secret-looking environment variables
are replaced wherever they occur (arguments, results, descriptions): the log never carries them.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import os
import re
from pathlib import Path
from typing import Any

from mcip.record import Trajectory, parse_record

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASS|PWD|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|SIGNATURE", re.I)
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
REDACTED = "[REDACTED]"


def env_secrets(environ: dict[str, str] | None = None, min_len: int = 6) -> dict[str, str]:
    """name -> value of environment variables that look secret: by name, or a URL with credentials in it."""
    env = os.environ if environ is None else environ
    return {
        k: v
        for k, v in env.items()
        if len(v) >= min_len and (_SECRET_NAME.search(k) or _URL_CREDENTIALS.search(v))
    }


class Redactor:
    """Replaces argument values by key (globs, case-insensitive, any depth) and secret values anywhere."""

    def __init__(self, keys: list[str], secrets: dict[str, str] | None = None):
        self.keys = [k.lower() for k in keys]
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted((secrets or {}).items(), key=lambda kv: -len(kv[1]))

    def _key_matches(self, key: str) -> bool:
        return any(fnmatch.fnmatchcase(key.lower(), k) for k in self.keys)

    def arguments(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if self._key_matches(str(k)) else self.arguments(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.arguments(v) for v in value]
        return value

    def text(self, text: str) -> str:
        for name, secret in self.secrets:
            if secret in text:
                text = text.replace(secret, f"[REDACTED:{name}]")
        return text

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value

    def record(self, traj: Trajectory) -> Trajectory:
        data = traj.model_dump(mode="json", exclude_none=True)
        for msg in data["messages"]:
            for call in msg.get("tool_calls") or ():
                args = json.loads(call["function"]["arguments"])
                call["function"]["arguments"] = json.dumps(
                    self._walk(self.arguments(args)), ensure_ascii=False
                )
        guard = data.get("meta", {}).get("guard")
        if isinstance(guard, dict) and isinstance(guard.get("arguments"), dict):
            guard["arguments"] = self.arguments(guard["arguments"])
        return parse_record(self._walk(data), "<audit record>")


class AuditLog:
    """Appends redacted records to ``path`` (created with its folders; mode 0600, it holds session data)."""

    def __init__(self, path: str | Path, redactor: Redactor):
        self.path = Path(path)
        self.redactor = redactor
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.written = 0

    def write(self, traj: Trajectory) -> None:
        line = (self.redactor.record(traj).to_json() + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, start)  # never leave a half-written line behind
                raise
        finally:
            os.close(fd)  # closing releases the lock
        self.written += 1
