import json
import os
import subprocess
import sys
from pathlib import Path

from mcip.examples import bmi_example
from mcip.flows import check_grammar, derive_flows, ends_with_proposed_call
from mcip.prompt import render_mci_log
from mcip.record import parse_record

REPO = Path(__file__).resolve().parents[1]


def test_bmi_example_gives_the_papers_four_flows():
    flows = derive_flows(bmi_example())
    assert [(f.sender, f.recipient, f.principle) for f in flows] == [
        ("user", "assistant", "consent"),
        ("assistant", "health.calculate_bmi", "necessity"),
        ("health.calculate_bmi", "assistant", "service provision"),
        ("assistant", "user", "transparency"),
    ]
    assert flows[1].info_type == "arguments: weight, height"
    assert render_mci_log(flows).splitlines()[0] == "1. user -> assistant | subject: user | request | consent"


def _flows_in_a_fresh_interpreter(hash_seed: str) -> str:
    code = (
        "import json; from mcip.examples import bmi_example; from mcip.flows import derive_flows; "
        "print(json.dumps([f.model_dump(mode='json') for f in derive_flows(bmi_example(unsafe=True))]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_derivation_is_deterministic_and_follows_calls_by_id():
    traj = bmi_example(unsafe=True)
    # the same flows from a record rebuilt from its JSON, and in interpreters with other string hashes
    # (set order differs there), so nothing in the derivation hangs on object identity or iteration order
    again = parse_record(json.loads(traj.to_json()))
    assert derive_flows(again) == derive_flows(traj)
    runs = {_flows_in_a_fresh_interpreter(seed) for seed in ("0", "1")}
    assert len(runs) == 1
    assert json.loads(runs.pop()) == [f.model_dump(mode="json") for f in derive_flows(traj)]
    flows = derive_flows(traj)
    result_of_share = [f for f in flows if f.sender == "health.share_health_record"]
    assert len(result_of_share) == 1 and result_of_share[0].call_id == "call_2"


def test_subject_comes_from_identity_arguments():
    traj = parse_record(
        {
            "messages": [
                {"role": "user", "content": "show patient 17"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "a", "function": {"name": "get_record", "arguments": '{"patient_id": 17}'}}
                    ],
                },
            ]
        }
    )
    assert derive_flows(traj)[1].subject == "17"


def test_grammar_accepts_response_or_proposed_call_and_flags_the_rest():
    assert check_grammar(bmi_example()) == []
    proposed = parse_record(
        {
            "messages": [
                {"role": "user", "content": "delete tmp"},
                {
                    "role": "assistant",
                    "content": "Deleting.",
                    "tool_calls": [{"id": "a", "function": {"name": "rm", "arguments": "{}"}}],
                },
            ]
        }
    )
    assert ends_with_proposed_call(proposed) and check_grammar(proposed) == []
    odd = parse_record(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "a", "function": {"name": "rm", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "a", "content": "ok"},
            ]
        }
    )
    found = [str(f) for f in check_grammar(odd)]
    assert "messages.0: log starts with a assistant message, not the user's query" in found
    assert any("log ends with a tool result" in f for f in found)
