"""The append-only session rendering (issue 22): a verdict turn after every call and answer, each check a prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcip.calls import positions
from mcip.flows import derive_flows
from mcip.prompt import format_answer, render_flow
from mcip.stream import StreamError, prefix, stream_messages, turns
from mcip.taxonomy import LABEL_STRINGS, SAFE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def records(default_records):
    return default_records[:160]


def test_every_flow_is_read_once_in_order_and_every_position_gets_its_verdict(records):
    seen = set()
    for traj in records:
        msgs = stream_messages(traj)
        labels = traj.meta["call_labels"]
        assert len(msgs) == 1 + 2 * len(labels)
        assert [m["content"] for m in msgs[2::2]] == [format_answer(p["label"]) for p in labels]
        text = "\n".join(m["content"] for m in msgs[1::2])
        headers = [render_flow(n, f, compact=True) for n, f in enumerate(traj.flows or derive_flows(traj), 1)]
        found = [line for line in text.splitlines() if line in headers]
        assert found[: len(headers)] == headers[: len(found)] and len(found) >= len(headers) - 1
        for tool in traj.tools:  # the whole tool list, once, in the first turn
            assert tool.qualified_name in msgs[1]["content"]
        seen.add(traj.label)
    assert seen == set(LABEL_STRINGS)


def test_each_check_reads_a_token_prefix_of_the_next(records, smollm2_dir):
    """With the real chat template: the tokens before verdict k, plus that verdict, start the tokens before k+1,
    so a guard's key/value cache from one check serves the next."""
    from transformers import AutoTokenizer

    from mcip.scoring import encode, render_chat

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    traj = max(records[:40], key=lambda t: len(positions(t)))
    msgs = stream_messages(traj)
    n = (len(msgs) - 1) // 2
    assert n >= 3
    for k in range(n - 1):
        # rendered and encoded as training and the guard do (mcip.scoring)
        before = encode(tok, tok.apply_chat_template(prefix(msgs, k) + [msgs[2 + 2 * k]], tokenize=False))
        after = encode(tok, render_chat(tok, prefix(msgs, k + 1)))
        assert len(after) > len(before) and after[: len(before)] == before


def test_a_call_deviating_before_later_calls_is_judged_where_it_happens(records):
    """34% of attack records deviate before their last flow: the stream puts the class at that call's verdict."""
    early = 0
    for traj in records:
        if traj.label == SAFE:
            continue
        labels = traj.meta["call_labels"]
        at = next(i for i, p in enumerate(labels) if p["label"] != SAFE)
        verdicts = [m["content"] for m in stream_messages(traj)[2::2]]
        assert verdicts[at] == format_answer(traj.label) and set(verdicts[:at]) <= {format_answer(SAFE)}
        early += at < len(labels) - 1
    assert early > 0


def test_labels_that_do_not_match_the_log_are_an_error_naming_the_field(records):
    traj = records[0]
    with pytest.raises(StreamError, match=r"field meta.call_labels: does not match"):
        stream_messages(traj, labels=traj.meta["call_labels"][1:])
    bare = traj.model_copy(update={"meta": {}})
    with pytest.raises(StreamError, match=r"field meta.call_labels: missing"):
        stream_messages(bare)
    assert len(turns(bare)) == len(positions(bare))  # a guard streams unlabelled sessions all the same
