"""The trajectory record: the interchange format every stage reads and writes.

A record is OpenAI-style chat messages (``tool_calls`` on assistant turns, ``tool`` results with a
``tool_call_id``) plus the MCP ``tools/list`` entries the agent could see, an optional label, optional MCI
flows and free-form ``meta``. Structural problems are errors; deviations that are the very point of an
attack (a call to a tool missing from ``tools``, a log that ends oddly) are *flags*, reported but accepted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcip.io import atomic_write, json_lines
from mcip.taxonomy import BINARY_LABELS, LABEL_STRINGS, is_valid_label

Privilege = Literal["read", "write", "admin"]


class RecordError(ValueError):
    """A record failed validation; the message names file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tool(_Strict):
    """An MCP ``tools/list`` entry, plus the server that offers it and its privilege level when known."""

    name: str = Field(min_length=1)
    title: str | None = None  # MCP's optional human-readable name
    description: str = ""
    inputSchema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    server: str | None = None
    privilege: Privilege | None = None
    annotations: dict[str, Any] | None = None  # MCP hints: readOnlyHint, destructiveHint, idempotentHint, ...
    outputSchema: dict[str, Any] | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.server}.{self.name}" if self.server else self.name


class FunctionCall(_Strict):
    name: str = Field(min_length=1)
    arguments: str = "{}"  # a JSON object, as a string (the OpenAI wire format)

    @field_validator("arguments", mode="before")
    @classmethod
    def _dump_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return value

    @field_validator("arguments")
    @classmethod
    def _must_be_json_object(cls, value: str) -> str:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"malformed JSON arguments ({err.msg} at char {err.pos}): {value[:80]!r}"
            ) from None
        if not isinstance(parsed, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(parsed).__name__}")
        return value

    @property
    def args(self) -> dict[str, Any]:
        return json.loads(self.arguments)


class ToolCall(_Strict):
    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _join_text_parts(cls, value: Any) -> Any:
        # OpenAI also allows content as a list of {"type": "text", "text": ...} parts.
        if isinstance(value, list):
            texts = []
            for i, part in enumerate(value):
                if not (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    raise ValueError(f"content part {i} is not a text part: {str(part)[:80]}")
                texts.append(part["text"])
            return "\n".join(texts)
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> Message:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages may carry tool_calls, not {self.role!r}")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs a tool_call_id")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError(f"tool_call_id is only valid on tool messages, not {self.role!r}")
        if self.role == "assistant" and not self.tool_calls and self.content is None:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class Flow(_Strict):
    """One MCI information flow: ``sender`` sends ``subject``'s ``info_type`` to ``recipient`` under ``principle``."""

    sender: str
    recipient: str
    subject: str
    info_type: str
    principle: str
    message: int  # index into Trajectory.messages of the message that carries this flow
    call_id: str | None = None  # the tool call a call or result flow belongs to


class Trajectory(_Strict):
    id: str | None = None
    tools: list[Tool] = Field(default_factory=list)
    messages: list[Message] = Field(min_length=1)
    label: str | None = None
    flows: list[Flow] | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_label(value):
            raise ValueError(
                f"unknown label {value!r}; expected one of {', '.join(LABEL_STRINGS)}, "
                f"or {' / '.join(BINARY_LABELS)} for binary data"
            )
        return value

    @model_validator(mode="after")
    def _calls_and_results_match(self) -> Trajectory:
        seen: set[str] = set()
        for i, msg in enumerate(self.messages):
            for j, call in enumerate(msg.tool_calls or ()):
                if call.id in seen:
                    raise ValueError(f"messages.{i}.tool_calls.{j}.id: duplicate tool call id {call.id!r}")
                seen.add(call.id)
            if msg.role == "tool" and msg.tool_call_id not in seen:
                raise ValueError(
                    f"messages.{i}.tool_call_id: tool result for {msg.tool_call_id!r} has no earlier matching call"
                )
        return self

    # -- convenience views -------------------------------------------------------------------------
    def tool(self, name: str) -> Tool | None:
        """The tool a call by ``name`` refers to: a ``server.name`` qualified match first, then a bare name."""
        for t in self.tools:
            if t.qualified_name == name:
                return t
        for t in self.tools:
            if t.name == name:
                return t
        return None

    def calls(self) -> list[tuple[int, ToolCall]]:
        """(message index, call) for every tool call, in order."""
        return [(i, c) for i, m in enumerate(self.messages) for c in (m.tool_calls or ())]

    def results(self) -> dict[str, tuple[int, Message]]:
        """tool_call_id -> (message index, tool message)."""
        return {m.tool_call_id: (i, m) for i, m in enumerate(self.messages) if m.role == "tool"}

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Finding:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _format_errors(err: ValidationError, where: str) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        # Cross-field checks raise at the record level and name the field in the message itself.
        lines.append(f"{where}: field {loc}: {msg}" if loc else f"{where}: field {msg}")
    return lines


def parse_record(obj: Any, where: str = "<record>") -> Trajectory:
    """Validate one decoded JSON object; raise RecordError naming ``where`` and the field."""
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        return Trajectory.model_validate(obj)
    except ValidationError as err:
        raise RecordError("\n".join(_format_errors(err, where))) from None


def from_row(row: dict[str, Any], where: str = "<row>") -> Trajectory:
    """The trajectory of a dataset row (``id``, ``label``, ``trajectory`` JSON, as ``make data`` writes them).

    The row's label and id win over the embedded record's, so relabelled or filtered datasets stay truthful.
    """
    label = row.get("label")
    if label is not None and not is_valid_label(label):
        raise RecordError(
            f"{where}: field label: unknown label {label!r}; expected one of "
            f"{', '.join(LABEL_STRINGS)} or {' / '.join(BINARY_LABELS)}"
        )
    try:
        obj = json.loads(row["trajectory"])
    except KeyError:
        raise RecordError(f"{where}: field trajectory: missing") from None
    except (json.JSONDecodeError, TypeError) as err:
        raise RecordError(f"{where}: field trajectory: not valid JSON ({err})") from None
    if isinstance(obj, dict):
        obj = {
            **obj,
            **({"label": label} if label is not None else {}),
            **({"id": str(row["id"])} if row.get("id") is not None else {}),
        }
    return parse_record(obj, where)


def iter_jsonl(path: str | os.PathLike, max_errors: int = 20) -> Iterator[Trajectory]:
    """Yield validated records; collect up to ``max_errors`` problems, then raise one RecordError listing them."""
    errors: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for where, obj, error in json_lines(fh, str(path)):
            if error:
                errors.append(error)
            else:
                try:
                    yield parse_record(obj, where)
                except RecordError as err:
                    errors.append(str(err))
            if len(errors) >= max_errors:
                break
    if errors:
        more = " (stopped at the first errors)" if len(errors) >= max_errors else ""
        raise RecordError(f"{len(errors)} invalid record(s) in {path}{more}:\n" + "\n".join(errors))


HUMAN_LABEL = "human"  # meta.label_source of a record a person labelled


def not_gold(traj: Trajectory) -> str | None:
    """Why ``traj``'s label cannot be gold, or None. A record the guard wrote (``meta.guard``: an audit log, or an
    old one whose ``label`` held the guardian's verdict) is gold only once a person has labelled it
    (``meta.label_source: human``); a record marked ``label_source: guardian``/``unlabelled`` never is. Evaluation
    and ``--gold`` ask this, so a guardian's own verdict is never scored against itself or trained on."""
    meta = traj.meta or {}
    source = meta.get("label_source")
    if source == HUMAN_LABEL:
        return None
    if source in ("guardian", "unlabelled"):
        return f"meta.label_source is {source!r}: label it by hand (meta.label_source: {HUMAN_LABEL})"
    if "guard" in meta:
        return (
            "an mcip-guard audit record (meta.guard) that no person labelled: its label, if any, is the "
            f"guardian's verdict (set label and meta.label_source: {HUMAN_LABEL} once a person has judged it)"
        )
    return None


def load_jsonl(path: str | os.PathLike) -> list[Trajectory]:
    if not Path(path).is_file():
        raise RecordError(f"{path}: no such file")
    return list(iter_jsonl(path))


def save_jsonl(records: Iterable[Trajectory], path: str | os.PathLike) -> int:
    """Write records atomically, one JSON object per line; returns the count."""
    n = 0
    with atomic_write(path) as fh:
        for rec in records:
            fh.write(rec.to_json() + "\n")
            n += 1
    return n
