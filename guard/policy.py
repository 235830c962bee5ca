"""The guard's policy file: what to do with a guardian's verdict, and what to do when there is none.

A YAML file (every key optional; unknown keys are errors, so a typo never silently weakens a policy)::

    fail_mode: closed          # closed (default): a guardian error or missed deadline blocks the call
                               # open: the call runs; announced at start and logged on every such call
    deadline_ms: auto          # per check, or `auto` (default): measured on this machine when the guardian loads
                               # (`mcip-guard check` prints the measurement); the model keeps running in the
                               # background after a miss, but the call is decided
    load_timeout_ms: 300000    # how long a call waits for the guardian model to finish loading at start
    thresholds:                # on P(unsafe), per predicted risk class; `default` covers the rest
      default: {block: 0.5, ask: 0.3, log: 0.1}
      replay_function: {block: 0.8}
    allow_tools: [add]         # never reviewed (still logged); `server.tool` or bare names, shell globs
    deny_tools: ["*delete*"]   # always blocked
    unlisted_tools: block      # a call to a tool the server never listed: block (default) or review
    unknown_request: review    # no user request known for the session: review (judge without it), ask or block;
                               # ask still runs the guardian first (its block stands; the question carries its verdict)
    ask_fallback: block        # `ask` when the client cannot be asked (no elicitation): block (default) or allow
    on_drift: report           # a pinned tool's description or schema changed: report (default) or block
    redact:
      arguments: [password, "*token*"]   # argument keys (globs, any depth) whose values are never logged
      env: true                          # replace secret-looking environment values anywhere in the log
      content: true                      # replace secrets found by content anywhere (keys, tokens, PEM keys)

Errors name the file and the field: ``policy.yaml: field thresholds.default.block: ...``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mcip.stream import STREAM_WINDOW
from mcip.taxonomy import LABEL_STRINGS, SAFE

DEFAULT_REDACT_KEYS = (
    "password",
    "passwd",
    "*secret*",
    "*token*",
    "api_key",
    "apikey",
    "*api-key*",
    "authorization",
    "cookie",
    "private_key",
    "*credential*",
)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Strict):
    """P(unsafe) cut-offs: at or above ``block`` the call is blocked, above ``ask`` the user is asked,
    above ``log`` it runs but is marked for review in the audit log."""

    block: float = Field(0.5, ge=0.0, le=1.0)
    ask: float | None = Field(None, ge=0.0, le=1.0)
    log: float | None = Field(None, ge=0.0, le=1.0)


class Redaction(_Strict):
    arguments: list[str] = Field(default_factory=lambda: list(DEFAULT_REDACT_KEYS))
    env: bool = True
    content: bool = True


class PolicyModel(_Strict):
    fail_mode: Literal["closed", "open"] = "closed"
    deadline_ms: int | Literal["auto"] = "auto"
    load_timeout_ms: int = Field(300000, gt=0)
    thresholds: dict[str, Thresholds] = Field(default_factory=lambda: {"default": Thresholds()})
    allow_tools: list[str] = Field(default_factory=list)
    deny_tools: list[str] = Field(default_factory=list)
    unlisted_tools: Literal["block", "review"] = "block"
    unknown_request: Literal["review", "ask", "block"] = "review"
    ask_fallback: Literal["block", "allow"] = "block"
    on_drift: Literal["report", "block"] = "report"
    redact: Redaction = Field(default_factory=Redaction)
    # tokens the guardian reads of a live session before it re-cuts the history into a new chat: bounds each
    # check's cost however long the session runs (mcip.stream.STREAM_WINDOW)
    window_tokens: int = Field(STREAM_WINDOW, gt=256)

    @field_validator("deadline_ms", mode="before")
    @classmethod
    def _deadline(cls, value):
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"expected a positive number of milliseconds or auto, got {value!r}")
        return value

    @field_validator("thresholds")
    @classmethod
    def _known_classes(cls, value: dict[str, Thresholds]) -> dict[str, Thresholds]:
        for name in value:
            if name != "default" and (name not in LABEL_STRINGS or name == SAFE):
                risks = ", ".join(s for s in LABEL_STRINGS if s != SAFE)
                raise ValueError(f"unknown risk class {name!r}; expected default or one of {risks}")
        return value


@dataclass(frozen=True)
class Policy:
    """A validated policy; ``source`` is the file it came from (``<default>`` for the built-in one)."""

    model: PolicyModel = field(default_factory=PolicyModel)
    source: str = "<default>"

    @property
    def fail_open(self) -> bool:
        return self.model.fail_mode == "open"

    @property
    def deadline_auto(self) -> bool:
        return self.model.deadline_ms == "auto"

    @property
    def deadline_s(self) -> float | None:
        """The fixed deadline in seconds; None for ``auto`` (the gate takes the loader's measurement)."""
        return None if self.model.deadline_ms == "auto" else self.model.deadline_ms / 1000

    @property
    def load_timeout_s(self) -> float:
        return self.model.load_timeout_ms / 1000

    def thresholds(self, label: str | None) -> Thresholds:
        """The class's thresholds, falling back field by field to ``default``."""
        default = self.model.thresholds.get("default", Thresholds())
        own = self.model.thresholds.get(label or "")
        if own is None:
            return default
        merged = default.model_dump() | own.model_dump(exclude_unset=True)
        return Thresholds(**merged)

    def action_for(self, p_unsafe: float, label: str | None) -> str:
        """allow, log, ask or block for a score and the predicted risk class."""
        t = self.thresholds(label)
        if p_unsafe >= t.block:
            return "block"
        if t.ask is not None and p_unsafe >= t.ask:
            return "ask"
        if t.log is not None and p_unsafe >= t.log:
            return "log"
        return "allow"

    def matches(self, patterns: list[str], tool: str, server: str | None) -> bool:
        names = [tool] + ([f"{server}.{tool}"] if server else [])
        return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def _format(err: ValidationError, path: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "<top level>"
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{path}: field {loc}: {first['msg'].removeprefix('Value error, ')}{more}"


def load_policy(path: str | Path | None) -> Policy:
    """The policy in ``path`` (YAML), or the built-in fail-closed default when ``path`` is None."""
    if path is None:
        return Policy()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PolicyError(f"{path}: cannot read ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{path}: not valid YAML{where} ({getattr(err, 'problem', err)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping of policy fields, got {type(data).__name__}")
    try:
        return Policy(PolicyModel.model_validate(data), str(path))
    except ValidationError as err:
        raise PolicyError(_format(err, str(path))) from None
