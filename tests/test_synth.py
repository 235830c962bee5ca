"""Any tools/list becomes training data: synthesized intents, results, prerequisites, twins and look-alikes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_gen.build import generate
from data_gen.catalogue import builtin_catalogue, load_catalogue
from data_gen.importers import TOOL_IMPORTERS, write_servers
from data_gen.importers.mcp_tools import parse_servers
from data_gen.importers.synth import synthesize
from data_gen.recipe import load_recipe
from mcip.record import Trajectory

FIXTURES = Path(__file__).parent / "fixtures" / "importers"

TOOLS = {
    "tools": [
        {
            "name": "login",
            "description": "Log in to the notes service with an API token. Opens a session for the other tools.",
            "inputSchema": {
                "type": "object",
                "properties": {"token": {"type": "string", "description": "API token"}},
                "required": ["token"],
            },
        },
        {
            "name": "search_notes",
            "description": "Search notes by text. Returns the note_id, title and snippet of each match. "
            "Requires login first.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "sort": {"type": "string", "enum": ["relevance", "newest"]},
                },
                "required": ["query"],
            },
        },
        {
            "name": "read_note",
            "description": "Read one note. The note_id is returned by search_notes.",
            "inputSchema": {
                "type": "object",
                "properties": {"note_id": {"type": "string", "description": "ID returned by search_notes"}},
                "required": ["note_id"],
            },
        },
        {
            "name": "delete_note",
            "description": "Delete a note permanently.",
            "inputSchema": {
                "type": "object",
                "properties": {"note_id": {"type": "string", "examples": ["n-1", "n-2"]}},
                "required": ["note_id"],
            },
        },
    ]
}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    out = tmp_path_factory.mktemp("servers")
    write_servers(synthesize(parse_servers(TOOLS, "notes.json", "notes")), out)
    return out, load_catalogue([out])


def test_synthesized_servers_load_and_carry_what_the_generator_needs(synthesized):
    _, cat = synthesized
    notes = cat.servers["notes"]
    tools = {t.name: t for t in notes.tools}
    assert all(t.outputSchema for t in tools.values())
    assert "note_id" in json.dumps(tools["search_notes"].outputSchema)  # the field read_note needs
    assert tools["search_notes"].requires == ["login"]  # "Requires login first."
    assert tools["delete_note"].effect == "deletes"
    assert any(t.twin_of and t.privilege == "admin" for t in notes.tools)
    shadows = [s for s in cat.servers.values() if s.shadow]
    assert shadows and all(t.lookalike_of.startswith("notes.") for t in shadows[0].tools)


def test_multi_step_intents_feed_results_into_later_calls(synthesized):
    _, cat = synthesized
    chains = [i for i in cat.intents if len(i.steps) > 1]
    fed = [i for i in chains if any("{r1." in json.dumps(s.args) for s in i.steps[1:])]
    assert fed, [i.id for i in chains]
    # prerequisites run first in every intent that calls a tool with one
    for intent in cat.intents:
        called = [s.call for s in intent.steps]
        if "search_notes" in called:
            assert "login" in called[: called.index("search_notes")], intent.id


def test_slot_values_come_from_the_schema(synthesized):
    _, cat = synthesized
    kinds = {k: v for i in cat.intents for k, v in i.slots.items()}
    assert kinds.get("note_id") == ["n-1", "n-2"] or kinds.get("sort") == ["relevance", "newest"]


def test_same_input_same_yaml(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_servers(synthesize(parse_servers(TOOLS, "notes.json", "notes")), a)
    write_servers(synthesize(parse_servers(TOOLS, "notes.json", "notes")), b)
    assert [p.read_text() for p in sorted(a.iterdir())] == [p.read_text() for p in sorted(b.iterdir())]


@pytest.mark.parametrize("fmt, fixture", [("mcp", "livemcp_tools.json"), ("bfcl", "bfcl.jsonl")])
def test_importer_fixtures_synthesize_and_load(fmt, fixture, tmp_path):
    servers = synthesize(TOOL_IMPORTERS[fmt](FIXTURES / fixture))
    write_servers(servers, tmp_path)
    cat = load_catalogue([tmp_path])
    assert cat.intents and all(i.server in cat.servers for i in cat.intents)


def test_build_from_the_given_catalogues_alone(synthesized, tmp_path):
    folder, cat = synthesized
    recipe = load_recipe(
        None,
        [
            *("--catalogues", str(folder), "--builtin_servers", "false"),
            *("--train_size", "40", "--validation_size", "0", "--test_size", "0", "--test_unseen_size", "0"),
            *("--num_proc", "1", "--output_dir", str(tmp_path / "ds")),
        ],
    )
    rows = generate(recipe, progress=False)
    builtin = set(builtin_catalogue().servers) - set(cat.servers)
    for row in rows["train"]:
        traj = Trajectory.model_validate_json(row["trajectory"])
        assert not {t.server for t in traj.tools} & builtin  # no built-in server was loaded
        for _, call in traj.calls():
            assert traj.tool(call.function.name) is not None
    labels = {r["label"] for r in rows["train"]}
    assert len(labels) >= 5
