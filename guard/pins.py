"""Tool pinning: remember each tool's name, description and schema at first sight and report changes.

A server that changes a tool's description after it was approved (a "rug pull"), adds a tool whose name imitates
another one (a look-alike), or whose tool list changes between two ``tools/list`` answers is reported: on
stderr, in the audit log's ``meta.drift``, and (policy ``on_drift: block``) by blocking calls to the changed tool.
Pins live in memory for the session, or in a JSON file (``--pins``) so changes between sessions show too.
Drift is reported, not yet judged: it becomes a risk class of its own once there is training data for it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mcip.io import atomic_write
from mcip.record import Tool
from mcip.relations import norm_name, similar_names


@dataclass(frozen=True)
class Drift:
    kind: str  # description_changed, schema_changed, tool_added, tool_removed, lookalike_name
    server: str
    tool: str
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.server}.{self.tool}: {self.kind}: {self.detail}"


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


class ToolPins:
    """server -> tool -> {description, schema digest, first_seen}; optionally persisted to ``path``."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.pins: dict[str, dict[str, dict]] = {}
        if self.path and self.path.is_file():
            try:
                self.pins = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as err:
                raise ValueError(f"{self.path}: unreadable pins file ({err})") from None

    def observe(self, server: str, tools: list[Tool]) -> list[Drift]:
        """Compare a full tool list with the pins; pin what is new; return what changed."""
        self._merge_others(server)
        known = self.pins.get(server)
        first_list = known is None
        known = self.pins.setdefault(server, {})
        found: list[Drift] = []
        names = {t.name for t in tools}
        others = {(s, n) for s, tl in self.pins.items() for n in tl}
        for tool in tools:
            pin = known.get(tool.name)
            schema = _digest(tool.inputSchema)
            if pin is None:
                if not first_list:
                    found.append(Drift("tool_added", server, tool.name, "not in the first tools/list"))
                for s, n in sorted(others):
                    if (s, n) == (server, tool.name):
                        continue
                    if similar_names(norm_name(n), norm_name(tool.name)):
                        found.append(Drift("lookalike_name", server, tool.name, f"resembles {s}.{n}"))
                known[tool.name] = {
                    "description": tool.description,
                    "schema": schema,
                    "first_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                continue
            if pin["description"] != tool.description:
                found.append(
                    Drift(
                        "description_changed",
                        server,
                        tool.name,
                        f"was {_short(pin['description'])!r}, now {_short(tool.description)!r}",
                    )
                )
            if pin["schema"] != schema:
                found.append(
                    Drift("schema_changed", server, tool.name, "input schema differs from the pinned one")
                )
        for name in sorted(set(known) - names):
            if not first_list:
                found.append(Drift("tool_removed", server, name, "listed before, missing now"))
        self.save()
        return found

    def _merge_others(self, server: str) -> None:
        """Proxies of other servers may share the pins file: read their pins so look-alikes across servers show."""
        if self.path is None or not self.path.is_file():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return
        for other, tools in data.items():
            if other != server and isinstance(tools, dict):
                self.pins[other] = tools

    def changed_tools(self, drifts: list[Drift]) -> set[tuple[str, str]]:
        return {(d.server, d.tool) for d in drifts if d.kind != "tool_removed"}

    def save(self) -> None:
        if self.path is None:
            return
        with atomic_write(self.path) as fh:
            json.dump(self.pins, fh, indent=1, sort_keys=True)
