"""Importers: outside data -> our formats.

Conversations (``iter_records(path)`` / ``parse_one(obj, where)`` -> :class:`mcip.record.Trajectory`) are the
benign gold dialogues that the attack transforms later edit, as the MCIP paper did with Glaive. Tool
catalogues (``load_servers(path)`` -> :class:`data_gen.catalogue.ServerSpec`, ``write_servers``) give the
generator real tools as extra pools. Bad input raises :class:`ImporterError` naming file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from data_gen.catalogue import ServerSpec
from data_gen.importers import bfcl, glaive, mcp_tools, openai_messages, toolace, xlam
from data_gen.importers.errors import ImporterError
from data_gen.importers.servers import write_servers
from mcip.record import Trajectory

__all__ = ["CONVERSATION_IMPORTERS", "TOOL_IMPORTERS", "ImporterError", "write_servers"]

CONVERSATION_IMPORTERS: dict[str, Callable[[str | Path], Iterator[Trajectory]]] = {
    "glaive": glaive.iter_records,
    "openai": openai_messages.iter_records,
    "xlam": xlam.iter_records,
    "toolace": toolace.iter_records,
}
TOOL_IMPORTERS: dict[str, Callable[[str | Path], list[ServerSpec]]] = {
    "mcp": mcp_tools.load_servers,
    "bfcl": bfcl.load_servers,
}
