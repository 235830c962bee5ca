"""Importers: outside data -> our formats.

Conversations (``parse_one(obj, where, index)`` -> :class:`mcip.record.Trajectory`, registered with
``@conversation_importer(NAME)`` from ``data_gen.importers.common``) are the benign gold dialogues that the
attack transforms later edit, as the MCIP paper did with Glaive. Tool catalogues (``load_servers(path)`` ->
:class:`data_gen.catalogue.ServerSpec`, registered with ``@importer(NAME, TOOLS)``) give the generator real tools
as extra pools; ``synth`` (``SYNTHESIS``) makes them generator-ready and ``agentdojo`` (``EVALUATION``) writes
evaluation-only records. Every module here is found by ``data_gen.registry.IMPORTERS`` (a package scan): adding
an importer is one module with one decorated function. Bad input raises :class:`ImporterError` naming file, line
and field.
"""

from __future__ import annotations

from data_gen.importers.errors import ImporterError
from data_gen.importers.servers import write_servers
from data_gen.registry import CONVERSATIONS, IMPORTERS, TOOLS, Loaders

__all__ = ["CONVERSATION_IMPORTERS", "IMPORTERS", "TOOL_IMPORTERS", "ImporterError", "write_servers"]

CONVERSATION_IMPORTERS = Loaders(CONVERSATIONS)  # name -> load(path) -> Iterator[Trajectory]
TOOL_IMPORTERS = Loaders(TOOLS)  # name -> load(path) -> list[ServerSpec]
