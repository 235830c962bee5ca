import json
import re
from pathlib import Path

import jsonschema
import pytest

from data_gen.catalogue import load_catalogue
from data_gen.importers import (
    CONVERSATION_IMPORTERS,
    TOOL_IMPORTERS,
    ImporterError,
    bfcl,
    glaive,
    mcp_tools,
    openai_messages,
    toolace,
    write_servers,
    xlam,
)
from data_gen.importers.access import infer_access
from data_gen.importers.schema import input_schema, parse_type
from data_gen.importers.servers import pad_description, server_name, tool_name
from mcip.flows import ends_with_proposed_call, flags
from mcip.prompt import build_prompt
from mcip.record import parse_record

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # beside a CI checkout; not on a clone
LIVEMCP = SHARED_DATA / "livemcp-tools" / "tools.json"
BFCL_REAL = SHARED_DATA / "bfcl-functions" / "bfcl_v4_unique_functions.jsonl"
CONVERSATION_FIXTURES = {
    "glaive": "glaive.jsonl",
    "openai": "openai.jsonl",
    "xlam": "xlam.jsonl",
    "toolace": "toolace.json",
}


def _load(fmt):
    return list(CONVERSATION_IMPORTERS[fmt](FIXTURES / CONVERSATION_FIXTURES[fmt]))


def _messages(traj):
    return [m.model_dump(exclude_none=True) for m in traj.messages]


def _call(call_id, name, args):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def _write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8"
    )
    return path


# -- conversations -------------------------------------------------------------------------------------------


def test_registry_names_every_importer():
    from data_gen.importers import IMPORTERS
    from data_gen.importers.agentdojo import main as agentdojo_main
    from data_gen.importers.synth import synthesize

    assert set(CONVERSATION_IMPORTERS) == {"glaive", "openai", "xlam", "toolace"}
    assert set(TOOL_IMPORTERS) == {"mcp", "bfcl"}
    assert TOOL_IMPORTERS["mcp"] is mcp_tools.load_servers and TOOL_IMPORTERS["bfcl"] is bfcl.load_servers
    assert {name: i.kind for name, i in IMPORTERS.items() if name in ("synth", "agentdojo")} == {
        "synth": "synthesis",
        "agentdojo": "evaluation",
    }
    assert IMPORTERS["synth"].load is synthesize and IMPORTERS["agentdojo"].load is agentdojo_main
    assert all(i.doc for i in IMPORTERS.values())
    assert issubclass(ImporterError, ValueError)


def test_an_importer_registered_twice_is_refused():
    from data_gen.importers.common import conversation_importer

    with pytest.raises(TypeError, match="importer 'glaive' is registered twice"):
        conversation_importer("glaive")(glaive.parse_one)


@pytest.mark.parametrize("fmt", sorted(CONVERSATION_FIXTURES))
def test_every_import_validates_renders_and_reads_as_a_clean_log(fmt):
    trajs = _load(fmt)
    assert trajs
    for i, traj in enumerate(trajs):
        assert parse_record(json.loads(traj.to_json())).to_json() == traj.to_json()
        assert flags(traj) == [], flags(traj)
        prompt = build_prompt(traj)
        assert [m["role"] for m in prompt] == ["system", "user"]
        assert traj.meta["source"] == fmt and traj.meta["index"] == i


def test_glaive_multi_turn_with_single_quoted_and_object_arguments():
    traj = _load("glaive")[0]
    assert traj.id == "glaive-0"
    assert [t.name for t in traj.tools] == ["get_exchange_rate", "convert_currency"]
    assert traj.tools[0].inputSchema["required"] == ["base_currency", "target_currency"]
    assert _messages(traj) == [
        {
            "role": "system",
            "content": "You are a helpful assistant with access to the following functions. Use them if required",
        },
        {"role": "user", "content": "Hi, what's the exchange rate from USD to EUR?"},
        {
            "role": "assistant",
            "tool_calls": [
                _call("call_1", "get_exchange_rate", {"base_currency": "USD", "target_currency": "EUR"})
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "get_exchange_rate",
            "content": '{"exchange_rate": 0.85}',
        },
        {"role": "assistant", "content": "The current exchange rate from USD to EUR is 0.85."},
        {"role": "user", "content": "Great. Please convert 1000 USD to EUR for me."},
        {
            "role": "assistant",
            "content": "Sure, let me do that.",
            "tool_calls": [_call("call_2", "convert_currency", {"amount": 1000, "from": "USD", "to": "EUR"})],
        },
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "name": "convert_currency",
            "content": '{"converted_amount": 850.0, "from": "USD", "to": "EUR"}',
        },
        {"role": "assistant", "content": "1000 USD is 850 EUR."},
    ]


def test_glaive_no_function_chat_is_imported_and_quotes_inside_quoted_arguments_survive():
    plain, note = _load("glaive")[1:]
    assert plain.tools == [] and [m.role for m in plain.messages] == ["system", "user", "assistant"]
    assert plain.messages[0].content == "You are a helpful assistant, with no access to external functions."
    assert note.messages[-1].tool_calls[0].function.args == {
        "title": "Trip",
        "content": "Don't forget: book flight to Paris",
    }
    assert ends_with_proposed_call(note)


def test_glaive_single_quoted_arguments_may_escape_their_quotes():
    chat = 'USER: note\n\n\nASSISTANT: <functioncall> {"name": "n", "arguments": \'{"t": "I\\\'m in"}\'} <|endoftext|>'
    assert glaive.parse_one({"chat": chat}).messages[-1].tool_calls[0].function.args == {"t": "I'm in"}


def test_glaive_reads_a_json_list_file_too(tmp_path):
    records = [json.loads(line) for line in (FIXTURES / "glaive.jsonl").read_text().splitlines()]
    path = tmp_path / "glaive.json"
    path.write_text(json.dumps(records, indent=2))
    assert [t.to_json() for t in CONVERSATION_IMPORTERS["glaive"](path)] == [
        t.to_json() for t in _load("glaive")
    ]


def test_openai_function_tools_and_parallel_calls_exactly():
    traj = _load("openai")[0]
    assert traj.id == "chat-001" and traj.label == "true"
    assert [t.model_dump(exclude_none=True) for t in traj.tools] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "inputSchema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                "required": ["city"],
            },
        },
        {
            "name": "get_time",
            "description": "Local time in a time zone",
            "inputSchema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
        },
    ]
    calls = traj.messages[2].tool_calls
    assert [c.function.args for c in calls] == [{"city": "Oslo", "unit": "c"}, {"tz": "Europe/Oslo"}]


def test_openai_mcp_tools_keep_annotations_and_meta():
    traj = _load("openai")[1]
    assert traj.tools[0].annotations == {"readOnlyHint": True}
    assert traj.meta == {"source": "openai", "index": 1, "origin": "hand-written"}
    assert ends_with_proposed_call(traj)


def test_sharegpt_variant_exactly():
    traj = _load("openai")[2]
    assert traj.tools[0].name == "search_flights"
    assert _messages(traj) == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Find me flights from OSL to CDG on 2024-05-01."},
        {
            "role": "assistant",
            "tool_calls": [
                _call(
                    "call_1", "search_flights", {"origin": "OSL", "destination": "CDG", "date": "2024-05-01"}
                )
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "search_flights",
            "content": '{"flights": [{"no": "SK831", "dep": "07:10"}]}',
        },
        {"role": "assistant", "content": "There is SK831 departing at 07:10."},
    ]


def test_sharegpt_parallel_calls_and_a_split_observation():
    obj = {
        "conversations": [
            {"from": "user", "value": "Weather in Oslo and Bergen?"},
            {
                "from": "function_call",
                "value": json.dumps(
                    [{"name": "w", "arguments": {"c": "Oslo"}}, {"name": "w", "arguments": '{"c": "Bergen"}'}]
                ),
            },
            {"from": "observation", "value": json.dumps([{"t": 4}, {"t": 7}])},
            {"from": "assistant", "value": "4 C and 7 C."},
        ]
    }
    traj = openai_messages.parse_one(obj)
    assert [(m.tool_call_id, m.content) for m in traj.messages if m.role == "tool"] == [
        ("call_1", '{"t": 4}'),
        ("call_2", '{"t": 7}'),
    ]
    assert traj.meta == {"source": "openai"} and traj.id is None


def test_xlam_becomes_query_plus_proposed_calls():
    traj = _load("xlam")[0]
    assert traj.id == "xlam-7" and traj.meta["source_id"] == 7
    assert ends_with_proposed_call(traj)
    assert _messages(traj) == [
        {
            "role": "user",
            "content": "Where can I find live giveaways for beta access and games? Also list the first 5 trending tags.",
        },
        {
            "role": "assistant",
            "tool_calls": [
                _call("call_1", "live_giveaways_by_type", {"type": "beta"}),
                _call("call_2", "live_giveaways_by_type", {"type": "game"}),
                _call("call_3", "trending_tags", {"limit": 5}),
            ],
        },
    ]
    assert traj.tools[1].inputSchema == {
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "description": "How many tags to return."},
            "categories": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Categories to filter by.",
            },
            "min_score": {"type": "number", "description": "Minimum trend score.", "default": 0.5},
            "safe": {"type": "boolean", "description": "Filter unsafe tags.", "default": True},
        },
        "required": ["limit"],
    }
    assert "required" not in traj.tools[0].inputSchema  # its one parameter has a default


def test_xlam_without_answers_keeps_the_query():
    traj = xlam.parse_one({"id": 1, "query": "Tell me a joke", "tools": "[]", "answers": "[]"}, "x")
    assert [m.role for m in traj.messages] == ["user"]


def test_xlam_parameters_already_in_json_schema_are_normalised():
    params = {"type": "dict", "properties": {"q": {"type": "str"}}, "required": ["q"]}
    tools = json.dumps([{"name": "search", "description": "Search the web.", "parameters": params}])
    traj = xlam.parse_one({"query": "q", "tools": tools, "answers": "[]"})
    assert traj.tools[0].inputSchema == {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
    }


def test_openai_api_dumps_with_null_fields_import():
    obj = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "hello",
                "refusal": None,
                "function_call": None,
                "tool_calls": None,
            },
        ]
    }
    assert _messages(openai_messages.parse_one(obj))[1] == {"role": "assistant", "content": "hello"}


def test_toolace_parallel_python_calls_and_results_exactly():
    traj = _load("toolace")[0]
    assert [t.name for t in traj.tools] == ["get_weather", "get_time"]
    assert traj.tools[0].inputSchema["type"] == "object"  # BFCL-style "dict" normalised
    assert "[{" not in traj.messages[0].content and traj.messages[0].content.startswith("You are an expert")
    assert _messages(traj)[1:] == [
        {"role": "user", "content": "What's the weather in Oslo and the time there?"},
        {
            "role": "assistant",
            "tool_calls": [
                _call("call_1", "get_weather", {"city": "Oslo"}),
                _call("call_2", "get_time", {"tz": "Europe/Oslo"}),
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "get_weather",
            "content": '{"temp_c": 4, "sky": "cloudy"}',
        },
        {"role": "tool", "tool_call_id": "call_2", "name": "get_time", "content": '{"time": "14:05"}'},
        {"role": "assistant", "content": "It is 4 C and cloudy in Oslo, and the local time is 14:05."},
    ]


def test_toolace_names_with_spaces_and_json_literals():
    traj = _load("toolace")[1]
    call = traj.messages[2].tool_calls[0]
    assert call.function.name == "Market Trends API"
    assert call.function.args == {
        "trend_type": "MARKET_INDEXES",
        "country": "us",
        "include_crypto": False,
        "limit": 3,
    }
    assert traj.tool("Market Trends API") is not None


def test_toolace_call_parser_reads_literals_only():
    parsed = toolace.parse_calls("[f(a=[1, -2.5, (3, 4)], b={'k': None}, c='x, y(z)'), g()]", "w", "v")
    assert parsed == [("f", {"a": [1, -2.5, [3, 4]], "b": {"k": None}, "c": "x, y(z)"}), ("g", {})]
    with pytest.raises(ImporterError, match=r"w: field v: call 1: argument is not a literal: __import__"):
        toolace.parse_calls("[f(a=__import__('os').system('true'))]", "w", "v")


ERRORS = [
    (
        "glaive",
        {
            "system": "",
            "chat": 'USER: hi\n\n\nASSISTANT: <functioncall> {"name": "f", "arguments": {oops}} <|endoftext|>',
        },
        r":2: field chat: ASSISTANT turn 2: unparsable <functioncall> payload",
    ),
    (
        "glaive",
        {"system": "", "chat": "USER: hi\n\n\nFUNCTION RESPONSE: {}"},
        r":2: field chat: FUNCTION RESPONSE turn 2: a tool result with no unanswered call",
    ),
    (
        "glaive",
        {"system": 'SYSTEM: tools -\n{"name": "f",}', "chat": "USER: hi"},
        r":2: field system: function 1: invalid JSON",
    ),
    ("glaive", {"system": ""}, r":2: field chat: missing"),
    ("glaive", "{not json", r":2: invalid JSON"),
    (
        "glaive",
        {
            "system": "",
            "chat": 'USER: hi\n\n\nASSISTANT: <functioncall> {"name": "f", "arguments": \'[1, 2]\'}',
        },
        r":2: field chat: ASSISTANT turn 2: arguments: arguments must be a JSON object, got list",
    ),
    (
        "openai",
        {"conversations": [{"from": "robot", "value": "hi"}]},
        r":2: field conversations\[0\].from: unknown speaker 'robot'",
    ),
    (
        "openai",
        {"conversations": [{"from": "function_call", "value": "{bad"}]},
        r":2: field conversations\[0\].value: invalid JSON text",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"description": "no name"}]},
        r":2: field tools\[0\].name: missing",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "x"}], "tool": []},
        r":2: field tool: unknown field",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "c9", "content": "{}"},
            ]
        },
        r":2: field messages.1.tool_call_id: tool result for 'c9' has no earlier matching call",
    ),
    (
        "xlam",
        {"query": "q", "tools": '[{"name": "f", "parameters": {"x": {"type": "Widget"}}}]', "answers": "[]"},
        r":2: field tools\[0\].parameters.x.type: unknown type 'Widget'",
    ),
    (
        "xlam",
        {"query": "q", "tools": "[]", "answers": '[{"arguments": {}}]'},
        r":2: field answers\[0\].name: missing",
    ),
    ("xlam", {"query": "q", "tools": "[]", "answers": "not json"}, r":2: field answers: invalid JSON text"),
    (
        "toolace",
        {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "[f(1, 2)]"}]},
        r":2: field conversations\[1\].value: call 1: arguments must be name=value pairs",
    ),
    (
        "toolace",
        {"conversations": [{"from": "user", "value": "q"}, {"from": "bot", "value": "hi"}]},
        r":2: field conversations\[1\].from: unknown speaker 'bot'",
    ),
    (
        "toolace",
        {
            "conversations": [
                {"from": "user", "value": "q"},
                {"from": "assistant", "value": "[f(a=1)]"},
                {"from": "tool", "value": '[{"name": "g", "results": {}}]'},
            ]
        },
        r":2: field conversations\[2\].value: result 1 is for 'g' but call 1 is 'f'",
    ),
    (
        "toolace",
        {"system": 'Functions: [{"name": broken}]', "conversations": []},
        r":2: field system: it lists functions but no JSON list",
    ),
]


@pytest.mark.parametrize(("fmt", "bad", "expected"), ERRORS)
def test_bad_records_name_file_line_and_field(tmp_path, fmt, bad, expected):
    good = json.loads((FIXTURES / "xlam.jsonl").read_text().splitlines()[0]) if fmt == "xlam" else None
    first = (
        good
        or {
            "glaive": {"system": "", "chat": "USER: hi"},
            "openai": {"messages": [{"role": "user", "content": "hi"}]},
            "toolace": {"conversations": [{"from": "user", "value": "hi"}]},
        }[fmt]
    )
    path = _write(tmp_path, "data.jsonl", [first, bad])
    with pytest.raises(ImporterError, match=re.escape(str(path)) + expected):
        list(CONVERSATION_IMPORTERS[fmt](path))


def test_json_list_errors_name_the_record_index(tmp_path):
    path = tmp_path / "toolace.json"
    path.write_text(
        json.dumps([{"conversations": [{"from": "user", "value": "hi"}]}, {"conversations": "nope"}])
    )
    with pytest.raises(
        ImporterError, match=r"toolace\.json\[1\]: field conversations: expected a list, got str"
    ):
        list(CONVERSATION_IMPORTERS["toolace"](path))


# -- tool catalogues -----------------------------------------------------------------------------------------


def _tools(servers):
    return {f"{s.server}.{t.name}": t for s in servers for t in s.tools}


def test_mcp_tools_list_with_annotations_and_draft07_schemas():
    (server,) = mcp_tools.load_servers(FIXTURES / "mcp_tools.json")
    assert server.server == "mcp-tools" and server.domain == "mcp"
    tools = {t.name: t for t in server.tools}
    assert {n: (t.privilege, t.effect) for n, t in tools.items()} == {
        "read_file": ("read", "none"),  # readOnlyHint
        "write_file": ("write", "deletes"),  # destructiveHint
        "move_file": ("write", "modifies"),
        "read_pdf": ("read", "none"),
        "stats": ("read", "none"),
        "run_command": ("admin", "executes"),  # "run.command": dots are not kept in tool names
    }
    assert tools["read_file"].inputSchema == {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    }
    pdf = tools["read_pdf"].inputSchema["properties"]
    assert pdf["pages"]["items"] == {"type": "integer", "exclusiveMinimum": 0}
    assert pdf["range"] == {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]}
    assert tools["stats"].description == "The stats tool: 统计"
    assert tools["stats"].outputSchema["required"] == ["files"]
    for t in server.tools:
        jsonschema.Draft202012Validator.check_schema(t.inputSchema)


def test_mcp_bare_list_and_json_rpc_response_read_the_same(tmp_path):
    tools = json.loads((FIXTURES / "mcp_tools.json").read_text())["tools"]
    bare, rpc = tmp_path / "fs.json", tmp_path / "fs-rpc.json"
    bare.write_text(json.dumps(tools))
    rpc.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}))
    (a,), (b,) = mcp_tools.load_servers(bare), mcp_tools.load_servers(rpc)
    assert (a.server, b.server) == ("fs", "fs-rpc")
    assert [t.model_dump(exclude={"server"}) for t in a.tools] == [
        t.model_dump(exclude={"server"}) for t in b.tools
    ]


def test_livemcp_format():
    servers = mcp_tools.load_servers(FIXTURES / "livemcp_tools.json")
    assert [(s.server, s.domain) for s in servers] == [
        ("bing-cn-mcp", "discovery"),
        ("server-12306-mcp", "travel"),
    ]
    assert servers[0].description.startswith("一个基于 MCP")
    tools = _tools(servers)
    assert tools["server-12306-mcp.get-tickets"].description == "The get-tickets tool (no description given)."
    assert (
        tools["server-12306-mcp.delete-order"].privilege,
        tools["server-12306-mcp.delete-order"].effect,
    ) == ("write", "deletes")
    assert "$schema" not in tools["bing-cn-mcp.bing_search"].inputSchema


def test_bfcl_types_grouping_and_variants():
    servers = bfcl.load_servers(FIXTURES / "bfcl.jsonl")
    assert {s.server: [t.name for t in s.tools] for s in servers} == {
        "math": ["sum", "hypot"],
        "bfcl-v4-simple-python": ["calculate_derivative", "calculate_bmi", "calculate_bmi_2"],
        "database-manager": ["updateUserRole", "runQuery"],
        "bfcl-v4-simple-javascript": ["get_all_user_list"],
        "gorilla-file-system": ["rm"],
        "bfcl": ["send_message"],  # a bare definition: grouped under the input file's name
    }
    tools = _tools(servers)
    assert tools["math.hypot"].inputSchema["properties"]["point"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "The (x, y) point.",
    }
    assert tools["bfcl-v4-simple-python.calculate_derivative"].inputSchema["properties"]["function"] == {
        "description": "A callable function."
    }
    java = tools["database-manager.updateUserRole"].inputSchema["properties"]
    assert {k: v.get("type") for k, v in java.items()} == {
        "userId": "string",
        "roles": "array",
        "attributes": "object",
        "expiresAt": "integer",
        "notify": "boolean",
    }
    assert java["roles"]["items"] == {"type": "string"}
    assert tools["database-manager.runQuery"].inputSchema["properties"]["timeout"]["type"] == "number"
    assert tools["gorilla-file-system.rm"].outputSchema == {
        "type": "object",
        "properties": {"result": {"type": "string"}},
    }
    assert "prefix math" not in servers[0].description and "math.*" in servers[0].description
    access = {k: (t.privilege, t.effect) for k, t in tools.items()}
    assert access["database-manager.updateUserRole"] == ("admin", "grants")
    assert access["database-manager.runQuery"] == ("admin", "executes")
    assert access["gorilla-file-system.rm"] == ("write", "deletes")
    assert access["bfcl.send_message"] == ("write", "sends")


def test_bfcl_large_groups_split_evenly(tmp_path):
    fns = [
        {
            "name": f"api.get_item_{i}",
            "description": f"Get item number {i}.",
            "parameters": {"type": "dict", "properties": {}},
        }
        for i in range(30)
    ]
    path = _write(tmp_path, "api.jsonl", [{"function": fns}])  # BFCL test-file style: a list per record
    servers = bfcl.load_servers(path, max_tools=25)
    assert [(s.server, len(s.tools)) for s in servers] == [("api-1", 15), ("api-2", 15)]


@pytest.mark.parametrize(
    ("files", "loader"),
    [(["mcp_tools.json", "livemcp_tools.json"], mcp_tools.load_servers), (["bfcl.jsonl"], bfcl.load_servers)],
)
def test_yaml_round_trip_through_load_catalogue(tmp_path, files, loader):
    servers = [s for f in files for s in loader(FIXTURES / f)]
    paths = write_servers(servers, tmp_path / "servers")
    assert sorted(p.name for p in paths) == sorted(f"{s.server}.yaml" for s in servers)
    cat = load_catalogue([tmp_path / "servers"])
    assert {k: t.model_dump() for k, t in cat.tools.items()} == {
        k: t.model_dump() for k, t in _tools(servers).items()
    }
    assert all(t.to_tool().inputSchema["type"] == "object" for t in cat.tools.values())


def test_write_servers_refuses_duplicate_names(tmp_path):
    (server,) = mcp_tools.load_servers(FIXTURES / "mcp_tools.json")
    with pytest.raises(ImporterError, match="duplicate server name"):
        write_servers([server, server], tmp_path)


TOOL_ERRORS = [
    (
        mcp_tools.load_servers,
        "t.json",
        {
            "tools": [
                {
                    "name": "f",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"n": {"type": "integer", "minimum": "zero"}},
                    },
                }
            ]
        },
        r"t\.json: field tools\[0\]\.inputSchema\.properties\.n\.minimum: invalid JSON schema: 'zero' is not of type 'number'",
    ),
    (
        mcp_tools.load_servers,
        "t.json",
        {"tools": [{"name": "f", "inputSchema": {"type": "string"}}]},
        r"t\.json: field tools\[0\]\.inputSchema\.type: the root must be an object schema",
    ),
    (
        mcp_tools.load_servers,
        "t.json",
        {"tools": [{"description": "nameless tool"}]},
        r"t\.json: field tools\[0\]\.name: missing",
    ),
    (
        mcp_tools.load_servers,
        "t.json",
        [{"name": "S", "tools": {"s": {"tools": []}}}],
        r"t\.json\[0\]: field tools\.s\.tools: the server lists no tools",
    ),
    (
        bfcl.load_servers,
        "b.jsonl",
        [
            {"function": {"name": "f", "parameters": {"type": "dict", "properties": {}}}},
            {
                "function": {
                    "name": "g",
                    "parameters": {"type": "dict", "properties": {"x": {"type": "Widget"}}},
                }
            },
        ],
        r"b\.jsonl:2: field function\.parameters\.properties\.x\.type: unknown type 'Widget'",
    ),
    (bfcl.load_servers, "b.jsonl", ["{oops"], r"b\.jsonl:1: invalid JSON"),
]


@pytest.mark.parametrize(("loader", "name", "data", "expected"), TOOL_ERRORS)
def test_bad_tool_files_name_file_record_and_field(tmp_path, loader, name, data, expected):
    path = _write(tmp_path, name, data) if name.endswith(".jsonl") else tmp_path / name
    if not name.endswith(".jsonl"):
        path.write_text(json.dumps(data))
    with pytest.raises(ImporterError, match=expected):
        loader(path)


# -- the pieces ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "description", "annotations", "expected"),
    [
        ("get_balance", "", None, ("read", "none")),
        ("listFiles", "", None, ("read", "none")),
        ("get_user_roles", "", None, ("read", "none")),  # the first verb decides, not the noun
        ("create_invoice", "", None, ("write", "modifies")),
        ("send_email", "", None, ("write", "sends")),
        ("delete_file", "", None, ("write", "deletes")),
        ("transfer_funds", "", None, ("write", "spends")),
        ("make_payment", "", None, ("write", "spends")),
        ("run_shell", "", None, ("admin", "executes")),
        ("grant_access", "", None, ("admin", "grants")),
        ("authenticate_user", "", None, ("read", "grants")),
        ("update_user_role", "", None, ("admin", "grants")),
        ("delete_role", "", None, ("admin", "deletes")),
        ("weather", "Fetches the forecast for a city.", None, ("read", "none")),
        ("rm", "It removes a file.", None, ("write", "deletes")),
        ("bmi", "Body mass index.", None, ("read", "none")),  # no verb at all: a read
        ("delete_cache", "", {"readOnlyHint": True}, ("read", "none")),  # the server's word wins
        ("notes", "", {"readOnlyHint": False}, ("write", "modifies")),
        ("update_item", "", {"destructiveHint": True}, ("write", "deletes")),
        ("exec_sql", "", {"destructiveHint": True}, ("admin", "deletes")),
    ],
)
def test_infer_access(name, description, annotations, expected):
    assert infer_access(name, description, annotations) == expected


@pytest.mark.parametrize(
    ("text", "schema", "optional"),
    [
        ("str", {"type": "string"}, False),
        ("str, optional", {"type": "string"}, True),
        ("int, default=5", {"type": "integer"}, True),
        ("List[str]", {"type": "array", "items": {"type": "string"}}, False),
        ("Tuple[float, float]", {"type": "array", "items": {"type": "number"}}, False),
        (
            "Tuple[int, str]",
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            False,
        ),
        ("Dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}, False),
        ("Optional[List[int]]", {"type": "array", "items": {"type": "integer"}}, True),
        ("Union[str, None]", {"type": ["string", "null"]}, True),
        ("HashMap", {"type": "object"}, False),
        ("Callable[[float], float]", {}, False),
        ("typing.Any", {}, False),
        ("any", {}, False),
    ],
)
def test_parse_type(text, schema, optional):
    assert parse_type(text, "w", "f") == (schema, optional)


def test_input_schema_normalises_to_draft_2020_12():
    schema = input_schema(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": {
                "a": {"type": ["float", "null"]},
                "b": {"type": "List[String]", "description": None},
                "c": {"anyOf": [{"type": "long"}, {"type": "char"}]},
            },
        },
        "w",
        "f",
    )
    assert schema == {
        "type": "object",
        "properties": {
            "a": {"type": ["number", "null"]},
            "b": {"type": "array", "items": {"type": "string"}},
            "c": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }
    assert input_schema(None, "w", "f") == {"type": "object", "properties": {}}


def test_names_and_descriptions_the_catalogue_accepts():
    taken: set[str] = set()
    assert [
        server_name(n, taken)
        for n in ["EventSettingsApi", "Ant Design Components", "12306-mcp", "ant_design_components", "!!!"]
    ] == [
        "event-settings-api",
        "ant-design-components",
        "server-12306-mcp",
        "ant-design-components-2",
        "server",
    ]
    taken = set()
    assert [tool_name(n, taken) for n in ["__get_list", "a.b.c", "get list", "a.b.c", "42"]] == [
        "get_list",
        "a_b_c",
        "get_list_2",
        "a_b_c_2",
        "tool",
    ]
    assert pad_description("x", "ab") == "The x tool: ab"
    assert pad_description("x", None) == "The x tool (no description given)."
    assert pad_description("x", "  A long enough description.  ") == "A long enough description."


# -- whole captures: the small fixtures everywhere, the real files where ../shared/data has them -------------


def _shared(path: Path, counts: tuple[int, int], what: str):
    return pytest.param(
        path,
        *counts,
        id="shared",
        marks=[pytest.mark.slow, pytest.mark.skipif(not path.is_file(), reason=f"{path} is absent ({what})")],
    )


@pytest.mark.parametrize(
    "path, n_servers, n_tools",
    [
        pytest.param(FIXTURES / "livemcp_tools.json", 2, 4, id="fixture"),
        _shared(LIVEMCP, (70, 527), "a copy of LiveMCPBench's tools.json"),
    ],
)
def test_livemcp_tools_import_and_load(path, n_servers, n_tools, tmp_path):
    servers = mcp_tools.load_servers(path)
    assert len(servers) == n_servers and sum(len(s.tools) for s in servers) == n_tools
    write_servers(servers, tmp_path)
    cat = load_catalogue([tmp_path])
    assert len(cat.servers) == n_servers and len(cat.tools) == n_tools


@pytest.mark.parametrize(
    "path, n_tools",
    [
        pytest.param(FIXTURES / "bfcl.jsonl", 10, id="fixture"),
        _shared(BFCL_REAL, (3420,), "BFCL v4's unique function schemas"),
    ],
)
def test_bfcl_functions_all_import_into_valid_schemas(path, n_tools):
    servers = bfcl.load_servers(path)  # each schema passes Draft202012Validator.check_schema on the way
    assert sum(len(s.tools) for s in servers) == n_tools
    assert all(len(s.tools) <= bfcl.MAX_TOOLS for s in servers)
    assert all(t.inputSchema["type"] == "object" for s in servers for t in s.tools)
