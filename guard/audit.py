"""The audit log: every reviewed call as one interchange record (``mcip/record.py``), appended to a JSONL file.

Each record is the session so far, ending with the proposed call as the guardian saw it (a log awaiting review,
the guardian's own training format), with the guard's verdict and what happened next in ``meta.guard``. Records of
one session share ``meta.session``; a denied call stays in later records with the error result the agent got. So
the file is what ``mcip validate``, ``train/evaluate.py`` and ``data_gen`` read once labelled; the guardian's
verdict is kept in ``meta.guard.review`` and ``meta.guardian_verdict``; ``label`` stays empty (unlabelled,
``meta.label_source: unlabelled``) until a person labels the record, so a guardian's verdict is never read as gold.

Writes are appends of one whole line under an exclusive lock (several proxies may share a file); a write that
fails half-way is truncated back, so the file never holds a half-written line. Before writing, every string in the
record (arguments, results, descriptions, meta) is redacted three ways:

- argument values whose keys match the policy's redaction list (``redact.arguments``);
- values of secret-looking environment variables, wherever they occur (``redact.env``);
- secrets found by content (``redact.content``): the detectors of ``detect-secrets`` (AWS, GitHub, GitLab, Slack,
  Stripe, OpenAI, npm, PyPI, JWT, Twilio, SendGrid, Azure and more; ``password: ...`` assignments; high-entropy
  quoted strings; credentials in URLs), values assigned to secret-looking names (``NPM_TOKEN=...``, ``"api_key":
  "..."``: the library's keyword list has no TOKEN or KEY), and whole PEM private-key blocks (the library only
  flags their header line). So a key read from a ``.env`` file, returned by a tool or written back in a later
  call's arguments never reaches the log.
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
# detect-secrets reports only the header line of a PEM key; the whole block is the secret
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.S)
# `NAME=value`, `name: value`, `"name": "value"` where NAME looks secret (detect-secrets' keyword list has no
# TOKEN, KEY or AUTH, so `NPM_TOKEN=npm_...` in a .env file would pass it)
_ASSIGNMENT = re.compile(r"""([A-Za-z_][\w.-]*)["']?\s*[:=]\s*["']?([^\s"',;]{8,})""")
_SECRET_WORD = re.compile(
    r"(key|token|secret|password|passwd|pwd|pass|credentials?|auth|authorization|cookie|signature)$", re.I
)


def _secret_name(name: str) -> bool:
    """A name that ends with a secret word as a word of its own: NPM_TOKEN, apiKey, db.password; not monkey,
    author or passenger."""
    m = _SECRET_WORD.search(name)
    if m is None:
        return False
    i = m.start()
    return i == 0 or name[i - 1] in "_.-" or (name[i - 1].islower() and name[i].isupper())


# a capture group shorter than this is a prefix (GitHub's "ghp"), not the secret: take the whole match
_MIN_GROUP = 8
REDACTED = "[REDACTED]"


def env_secrets(environ: dict[str, str] | None = None, min_len: int = 6) -> dict[str, str]:
    """name -> value of environment variables that look secret: by name, or a URL with credentials in it."""
    env = os.environ if environ is None else environ
    return {
        k: v
        for k, v in env.items()
        if len(v) >= min_len and (_SECRET_NAME.search(k) or _URL_CREDENTIALS.search(v))
    }


class ContentDetector:
    """Finds secrets in text by their content, with the detectors of ``detect-secrets`` (Yelp's maintained
    library): its regex detectors (each token's full match), its keyword detector (``password: ...`` and quoted
    assignments), values assigned to secret-looking names (``_secret_name``) and its two high-entropy detectors
    at their default limits (quoted strings)."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.plugins.high_entropy_strings import (
            Base64HighEntropyString,
            HexHighEntropyString,
        )
        from detect_secrets.plugins.ip_public import IPPublicDetector
        from detect_secrets.plugins.keyword import KeywordDetector

        self.regex: list[tuple[str, re.Pattern]] = []
        for kind, cls in sorted(get_mapping_from_secret_type_to_class().items()):
            if issubclass(cls, RegexBasedDetector) and cls is not IPPublicDetector:  # an IP is not a secret
                self.regex += [(kind, rx) for rx in cls().denylist]
        self.keyword = KeywordDetector()
        self.entropy = [Base64HighEntropyString(limit=4.5), HexHighEntropyString(limit=3.0)]

    def find(self, line: str) -> list[tuple[str, str]]:
        """(secret type, secret text) pairs in one line."""
        found: list[tuple[str, str]] = []
        for kind, rx in self.regex:
            for m in rx.finditer(line):
                groups = [g for g in m.groups() if g]
                best = max(groups, key=len) if groups else ""
                found.append((kind, best if len(best) >= _MIN_GROUP else m.group(0)))
        # "config.yaml" reads unquoted NAME=value / key: value; "" reads quoted assignments in any language
        for filename in ("config.yaml", ""):
            for s in self.keyword.analyze_line(filename=filename, line=line, line_number=0):
                found.append((s.type, s.secret_value or ""))
        for m in _ASSIGNMENT.finditer(line):
            if _secret_name(m.group(1)) and not m.group(2).startswith(("[REDACTED", "http", "/")):
                found.append(("Secret Assignment", m.group(2)))
        for plugin in self.entropy:
            for s in plugin.analyze_line(filename="", line=line, line_number=0):
                found.append((s.type, s.secret_value or ""))
        return [(k, v) for k, v in found if len(v) >= 4]


class Redactor:
    """Replaces argument values by key (globs, case-insensitive, any depth), environment secret values anywhere,
    and (``content=True``) secrets found by their content anywhere."""

    def __init__(self, keys: list[str], secrets: dict[str, str] | None = None, content: bool = False):
        self.keys = [k.lower() for k in keys]
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted((secrets or {}).items(), key=lambda kv: -len(kv[1]))
        self.detector = ContentDetector() if content else None
        self._seen: dict[str, str] = {}  # a session's record repeats its history: scan each string once

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
        if self.detector is None or len(text) < 8:
            return text
        done = self._seen.get(text)
        if done is None:
            done = self._content(text)
            if len(self._seen) > 20000:
                self._seen.clear()
            self._seen[text] = done
        return done

    def _content(self, text: str) -> str:
        assert self.detector is not None
        text = _PEM_BLOCK.sub(lambda m: f"[REDACTED:{m.group(1).title()}]", text)
        hits: dict[str, str] = {}
        for line in text.splitlines():
            for kind, secret in self.detector.find(line):
                if "[REDACTED" not in secret:
                    hits.setdefault(secret, kind)
        for secret in sorted(hits, key=len, reverse=True):  # longest first: a secret that contains another
            text = text.replace(secret, f"[REDACTED:{hits[secret]}]")
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
