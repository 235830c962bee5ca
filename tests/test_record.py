import json

import pytest

from mcip.examples import bmi_example
from mcip.flows import flags
from mcip.record import RecordError, load_jsonl, parse_record, save_jsonl


def _rec(**over):
    rec = {
        "tools": [{"name": "get_weather", "description": "Weather now", "inputSchema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 4}'},
            {"role": "assistant", "content": "It is 4 C in Oslo."},
        ],
        "label": "true",
    }
    rec.update(over)
    return rec


def _write(tmp_path, objs):
    path = tmp_path / "recs.jsonl"
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


def test_roundtrip_is_lossless(tmp_path):
    recs = [bmi_example(False), bmi_example(True)]
    path = tmp_path / "out.jsonl"
    assert save_jsonl(recs, path) == 2
    back = load_jsonl(path)
    assert [r.to_json() for r in back] == [r.to_json() for r in recs]


def test_arguments_given_as_object_are_stored_as_json_string():
    rec = _rec()
    rec["messages"][1]["tool_calls"][0]["function"]["arguments"] = {"city": "Oslo"}
    traj = parse_record(rec)
    assert traj.messages[1].tool_calls[0].function.arguments == '{"city": "Oslo"}'


def test_text_parts_are_joined():
    rec = _rec()
    rec["messages"][0]["content"] = [
        {"type": "text", "text": "Weather"},
        {"type": "text", "text": "in Oslo?"},
    ]
    assert parse_record(rec).messages[0].content == "Weather\nin Oslo?"


@pytest.mark.parametrize(
    "mutate, field, needle",
    [
        (lambda r: r["messages"][0].update(role="robot"), "messages.0.role", "Input should be"),
        (
            lambda r: r["messages"][2].update(tool_call_id="c9"),
            "messages.2.tool_call_id",
            "no earlier matching call",
        ),
        (
            lambda r: r["messages"][1]["tool_calls"][0]["function"].update(arguments='{"city": '),
            "messages.1.tool_calls.0.function.arguments",
            "malformed JSON arguments",
        ),
        (
            lambda r: r["messages"][1]["tool_calls"][0]["function"].update(arguments='["Oslo"]'),
            "messages.1.tool_calls.0.function.arguments",
            "must be a JSON object",
        ),
        (lambda r: r.update(label="prompt_injection"), "label", "unknown label 'prompt_injection'"),
        (lambda r: r["messages"][2].pop("tool_call_id"), "messages.2", "needs a tool_call_id"),
        (lambda r: r.update(colour="red"), "colour", "Extra inputs are not permitted"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, mutate, field, needle):
    good, bad = _rec(), _rec()
    mutate(bad)
    path = _write(tmp_path, [good, bad])
    with pytest.raises(RecordError) as err:
        load_jsonl(path)
    msg = str(err.value)
    assert f"{path}:2: field {field}" in msg and needle in msg, msg
    assert f"{path}:1" not in msg  # the good record is not blamed


def test_invalid_json_line_and_missing_file(tmp_path):
    path = _write(tmp_path, [_rec(), "{not json"])
    with pytest.raises(RecordError, match=r"recs.jsonl:2: invalid JSON"):
        load_jsonl(path)
    with pytest.raises(RecordError, match="no such file"):
        load_jsonl(tmp_path / "missing.jsonl")


def test_binary_labels_are_accepted_for_external_data():
    assert parse_record(_rec(label="unsafe")).label == "unsafe"
    assert parse_record(_rec(label="safe")).label == "safe"


def test_call_to_unlisted_tool_is_flagged_not_rejected():
    rec = _rec()
    rec["messages"][1]["tool_calls"][0]["function"]["name"] = "get_weather_pro"
    traj = parse_record(rec)
    found = [str(f) for f in flags(traj)]
    assert found == ["messages.1.tool_calls: call to 'get_weather_pro', not in tools"]


def test_save_is_atomic_when_a_record_fails(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("previous\n")

    def records():
        yield bmi_example()
        raise RuntimeError("generator broke")

    with pytest.raises(RuntimeError):
        save_jsonl(records(), path)
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    import os

    from mcip.io import atomic_dir

    save_jsonl([bmi_example()], tmp_path / "a.jsonl")
    with atomic_dir(tmp_path / "d") as d:
        (d / "x").write_text("1")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask


def test_write_json_is_whole_or_nothing(tmp_path):
    from mcip.io import write_json

    path = tmp_path / "sub" / "result.json"
    write_json(path, {"b": 1, "a": [1, 2]}, sort_keys=True)
    assert path.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})  # not serialisable: the previous file stays
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]
    write_json(path, {"when": object}, indent=1, default=str)
    assert path.read_text() == '{\n "when": "<class \'object\'>"\n}\n'
