"""Long logs: the renderer keeps the evidence of every label when a log is far over budget, the budget bounds the
whole user message, and evaluation and training handle 10k-token logs without overflowing the model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcip.flows import derive_flows
from mcip.prompt import approx_tokens, build_prompt, is_truncated, render_log
from mcip.record import Trajectory, from_row
from mcip.taxonomy import LABELS

FILLER = "The quarterly report lists revenue by region, churn by plan and open incidents by severity. "


def inflate(traj: Trajectory, tools: int = 60, result_chars: int = 12000) -> Trajectory:
    """The same log at real size: many more tools with long descriptions, and long tool results."""
    data = json.loads(traj.to_json())
    data["tools"] += [
        {
            "name": f"report_{i}",
            "server": f"extra{i % 5}",
            "description": f"Builds report {i}. " + FILLER * 6,
            "inputSchema": {"type": "object", "properties": {"region": {"type": "string"}}},
        }
        for i in range(tools)
    ]
    for msg in data["messages"]:
        if msg["role"] == "tool":
            msg["content"] = (msg["content"] or "") + " " + FILLER * (result_chars // len(FILLER))
    data.pop("flows", None)
    return Trajectory.model_validate(data)


@pytest.fixture(scope="module")
def per_label(tmp_path_factory) -> dict[str, tuple[Trajectory, str]]:
    """One generated record per label, with its rationale (which names the deviating flow)."""
    from datasets import load_from_disk

    from data_gen.build import build
    from data_gen.recipe import load_recipe
    from tests.conftest import REPO

    out = tmp_path_factory.mktemp("labels") / "ds"
    sizes = ["--train_size", "400", "--validation_size", "0", "--test_size", "0", "--test_unseen_size", "0"]
    recipe = load_recipe(
        REPO / "recipes/data/small.yaml",
        ["--output_dir", str(out), "--holdout_servers", "[]", "--num_proc", "1", *sizes],
    )
    build(recipe, progress=False)
    found: dict[str, tuple[Trajectory, str]] = {}
    for i, row in enumerate(load_from_disk(str(out))["train"]):
        if row["label"] not in found and re.search(r"[Ff]lows? \d+", row["rationale"] or ""):
            found[row["label"]] = (from_row(row, f"row {i}"), row["rationale"])
    return found


def _flow_block(text: str, n: int) -> str | None:
    """The header and data line of flow ``n`` in a rendered log."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"{n}\. ", line):
            return "\n".join(lines[i : i + 2])
    return None


@pytest.mark.parametrize("budget", [2048, 4096])  # the GPU recipe's context and 4k
def test_the_deviating_flows_evidence_survives_for_every_label(per_label, budget):
    assert {lb.string for lb in LABELS} - {"true"} <= set(per_label), sorted(per_label)
    for label, (traj, rationale) in per_label.items():
        long = inflate(traj)
        assert approx_tokens(render_log(long).text) > 2 * budget
        rendering = render_log(long, budget)
        text = rendering.text
        assert approx_tokens(text) <= budget and rendering.truncated and is_truncated(text), label
        assert text.startswith("Note: cut to fit the length budget:"), label  # the prompt says what was cut
        for n in map(int, re.findall(r"[Ff]lows? (\d+)", rationale)):
            block = _flow_block(text, n)
            assert block is not None, f"{label}: flow {n} named by the rationale is missing"
            header, data = block.split("\n")
            if "request" in header or " -> " in header and "assistant ->" in header and "user" not in header:
                assert "chars cut]" not in data, f"{label}: flow {n}'s evidence was cut: {data[:200]}"
        for _, call in long.calls():  # every call's arguments, in full
            assert json.dumps(call.function.args, ensure_ascii=False)[:40] in text or not call.function.args
        for tool in long.tools:  # the called tools stay listed
            if any(call.function.name in (tool.name, tool.qualified_name) for _, call in long.calls()):
                assert f"- {tool.qualified_name}" in text, (
                    f"{label}: called tool {tool.qualified_name} dropped"
                )


def test_headers_alone_over_budget_omit_old_flows_but_keep_requests_and_the_end(per_label):
    traj, _ = per_label["function_injection"]
    data = json.loads(traj.to_json())
    data.pop("flows", None)
    msgs = data["messages"]
    # a 60-call session before the final answer: the flow headers alone exceed a small budget
    extra = []
    for i in range(60):
        extra.append(
            {
                "role": "assistant",
                "tool_calls": [{"id": f"x{i}", "function": {"name": "ping", "arguments": "{}"}}],
            }
        )
        extra.append({"role": "tool", "tool_call_id": f"x{i}", "content": "pong"})
    data["messages"] = [msgs[0], *extra, *msgs[1:]]
    long = Trajectory.model_validate(data)
    text = render_log(long, 1000).text
    assert approx_tokens(text) <= 1000 and "flow(s) omitted" in text
    assert text.count("-> assistant | subject") >= 1 and re.search(r"^1\. user -> assistant", text, re.M)
    n_flows = len(derive_flows(long))
    assert re.search(rf"^{n_flows}\. assistant -> user", text, re.M), "the final answer's flow stays"
    assert re.search(r"^\d+\. assistant -> (?!user)", text, re.M)  # the latest calls stay


def test_flows_left_after_omission_keep_their_evidence_legible(per_label):
    """Past the budget, old flows go before the evidence of the flows shown is cut to nothing: a log of bare flow
    headers, every request and argument replaced by a cut marker, tells no class from another (that rule cost 35%
    of the CPU recipe's unsafe training logs their deviating flow; benchmarks/evidence_kept.py)."""
    traj, _ = per_label["wrong_parameter_prompt_injection"]
    data = json.loads(traj.to_json())
    data.pop("flows", None)
    msgs = data["messages"]
    extra = []
    for i in range(40):  # 40 earlier turns, each a long request and a call with long arguments
        extra.append({"role": "user", "content": f"Look up order {i}: " + FILLER * 3})
        args = json.dumps({"order": f"A-{i:04d}", "note": FILLER * 2})
        extra.append(
            {
                "role": "assistant",
                "tool_calls": [{"id": f"x{i}", "function": {"name": "ping", "arguments": args}}],
            }
        )
        extra.append({"role": "tool", "tool_call_id": f"x{i}", "content": "pong " + FILLER * 4})
    data["messages"] = [*extra, *msgs]
    long = Trajectory.model_validate(data)
    text = render_log(long, 900).text
    assert approx_tokens(text) <= 900 and "flow(s) omitted" in text
    lines = text.splitlines()
    shown = 0
    for i, line in enumerate(lines[:-1]):
        if re.match(r"\d+\. (user -> assistant|assistant -> (?!user))", line):
            body = lines[i + 1].strip()
            legible = re.sub(r"\.\.\.\[\d+ chars cut\]\.\.\.", "", body).strip('" ')
            assert len(legible) >= 20, f"{line}: evidence cut to nothing: {body}"
            shown += 1
    assert shown >= 3
    *_, (_, last_call) = traj.calls()  # the latest call keeps its arguments
    assert json.dumps(last_call.function.args, ensure_ascii=False)[:30] in text


def test_the_budget_bounds_the_whole_user_message_on_the_boundary(tiny_model_dir, per_label):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    count = lambda s: len(tok(s, add_special_tokens=False).input_ids)  # noqa: E731
    traj = inflate(per_label["replay_function"][0], tools=10, result_chars=3000)
    for style in ("full", "compact"):
        user = build_prompt(traj, style)[1]["content"]
        exact = count(user)
        assert build_prompt(traj, style, exact, count)[1]["content"] == user  # at the boundary: nothing cut
        for budget in (exact - 1, exact // 2, 700):
            cut = build_prompt(traj, style, budget, count)[1]["content"]
            assert count(cut) <= budget and cut.startswith("Judge this MCP interaction.\n"), (style, budget)


# -- 10k-token logs through evaluation and training (tiny model, real evaluator, real accelerate launch) -----------


def _saved(rows: list[dict], path) -> Path:
    """``rows`` as a training dataset on disk (its first four also the validation split)."""
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(rows), "validation": Dataset.from_list(rows[:4])}).save_to_disk(
        path
    )
    return path


@pytest.fixture(scope="module")
def long_records(per_label, tmp_path_factory, tiny_model_dir) -> list[Trajectory]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = [inflate(traj, tools=60, result_chars=20000) for traj, _ in per_label.values()]
    sizes = [len(tok(render_log(r).text, add_special_tokens=False).input_ids) for r in records]
    assert min(sizes) > 10_000, sizes  # logs of real sessions' size, far past the tiny model's positions
    return records


@pytest.mark.slow
def test_evaluation_of_10k_token_logs_cuts_them_to_the_context_and_says_so(
    long_records, tiny_model_dir, tmp_path
):
    from mcip.folder import ModelFolder
    from mcip.record import save_jsonl
    from train.evaluate import main

    data = tmp_path / "long.jsonl"
    save_jsonl(long_records, data)
    out = tmp_path / "eval"
    assert (
        main(
            [
                "--model",
                str(tiny_model_dir),
                "--data",
                str(data),
                "--mode",
                "both",
                "--max_new_tokens",
                "8",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    for name in ("metrics.json", "metrics_fast.json"):
        metrics = json.loads((out / name).read_text())
        context = ModelFolder.read(str(tiny_model_dir)).context
        assert metrics["context"] == context and metrics["n"] == len(long_records)
        assert metrics["truncated_share"] == 1.0  # every item cut, and the metrics say so
        assert metrics["prompt_tokens"]["max"] + 8 <= context  # nothing past the model's positions
        assert metrics["prompt_tokens"]["median"] > 1000  # ... and the room is used, not thrown away
    assert "100.00% of items were cut to fit" in (out / "report.md").read_text()


@pytest.mark.slow
def test_training_on_10k_token_logs_renders_into_max_length_instead_of_aborting(
    long_records, tiny_model_dir, tmp_path
):

    from tests.conftest import launch, ok

    rows = [
        {"id": r.id or f"r{i}", "label": r.label, "rationale": "", "trajectory": r.to_json()}
        for i, r in enumerate(long_records * 2)
    ]
    data = _saved(rows, tmp_path / "long-ds")
    out = tmp_path / "run"
    # no prompt budget of its own (larger than any room): the room max_length leaves decides
    ok(
        launch(
            tiny_model_dir, data, out, "--max_steps", "2", "--max_length", "1024", "--log_budget", "100000"
        )
    )
    run = json.loads((out / "mcip_run.json").read_text())
    assert run["truncated_prompts"]["train"] == 1.0 and run["label_masks"]["train"]["examples"] == len(rows)


def _with_later_turns(traj: Trajectory, turns: int = 30) -> Trajectory:
    """The record with ``turns`` benign turns after it (labelled safe): its deviating flow becomes an old one."""
    data = json.loads(traj.to_json())
    data.pop("flows", None)
    msgs, labels = data["messages"], data["meta"]["call_labels"]
    for i in range(turns):
        args = json.dumps({"order": f"A-{i:04d}", "note": FILLER})
        msgs += [
            {"role": "user", "content": f"Look up order {i}, please. " + FILLER},
            {
                "role": "assistant",
                "tool_calls": [{"id": f"later{i}", "function": {"name": "ping", "arguments": args}}],
            },
            {"role": "tool", "tool_call_id": f"later{i}", "content": "pong " + FILLER * 2},
            {"role": "assistant", "content": f"Order {i} is on its way."},
        ]
        labels += [{"call": f"later{i}", "label": "true"}, {"answer": len(msgs) - 1, "label": "true"}]
    data["tools"].append(
        {"name": "ping", "description": "Look up an order.", "inputSchema": {"type": "object"}}
    )
    return Trajectory.model_validate(data)


def test_training_flags_prompts_that_hide_the_deviating_flow_and_can_drop_them(
    per_label, tiny_model_dir, tmp_path
):
    """A long session whose attack is many turns old is cut with the old flows: its prompt no longer shows what
    its label turns on. Training counts such rows (mcip_run.json) and, with drop_hidden_evidence, leaves them
    out; data without per-call labels cannot say which rows those are and is refused."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from mcip.prompt import PromptFormat
    from tests.conftest import launch, ok
    from train.data import prepare_tokenized

    records = [_with_later_turns(t) for label, (t, _) in per_label.items() if label != "true"][:3]
    records += [t for t, _ in per_label.values()]
    rows = [
        {"id": f"r{i}", "label": r.label, "rationale": "", "trajectory": r.to_json()}
        for i, r in enumerate(records)
    ]
    prepared = prepare_tokenized(
        Dataset.from_list(rows),
        AutoTokenizer.from_pretrained(tiny_model_dir),
        PromptFormat("compact", 200),
        1024,
        1,
    )
    hidden = prepared["hidden_evidence"]
    assert hidden[:3] == [True, True, True], hidden  # the attack, 30 turns back, is cut away
    assert not any(h for h, r in zip(hidden, rows) if r["label"] == "true")  # a safe row has nothing to hide
    data = _saved(rows, tmp_path / "ds")
    out = tmp_path / "run"
    ok(
        launch(
            tiny_model_dir,
            data,
            out,
            "--max_steps",
            "1",
            "--max_length",
            "1024",
            "--drop_hidden_evidence",
            "true",
        )
    )
    run = json.loads((out / "mcip_run.json").read_text())
    assert run["hidden_evidence"]["train"] == {"rows": sum(hidden), "of": len(rows), "dropped": True}
    assert run["label_masks"]["train"]["examples"] == len(rows) - sum(hidden)

    for row in rows:  # the same data built before per-call labels
        traj = json.loads(row["trajectory"])
        traj["meta"].pop("call_labels")
        row["trajectory"] = json.dumps(traj)
    old = _saved(rows, tmp_path / "old")
    done = launch(
        tiny_model_dir, old, tmp_path / "run-old", "--max_steps", "1", "--drop_hidden_evidence", "true"
    )
    assert done.returncode != 0 and "meta.call_labels: missing" in done.stderr + done.stdout


def test_evaluation_states_the_share_of_unsafe_prompts_that_hide_their_evidence(per_label):
    """metrics.json says how many unsafe items' prompts lost the flow their label turns on: recall no guardian
    reading those prompts can reach. Safe items do not count; records without per-call labels give None."""
    from mcip.prompt import PromptFormat
    from mcip.prompting import prompt_stats

    unsafe = [t for label, (t, _) in per_label.items() if label != "true"][:3]

    def share(trajs, budget):
        prompts = [PromptFormat("compact", budget).messages(t, approx_tokens) for t in trajs]
        return prompt_stats(prompts, [1] * len(prompts), trajs)["hidden_evidence_share"]

    old = [_with_later_turns(t) for t in unsafe]
    assert share(old, 300) == 1.0  # the attack, 30 turns back, is cut away
    assert share(unsafe, None) == 0.0  # uncut: every deviating flow shown
    bare = [
        t.model_copy(update={"meta": {k: v for k, v in t.meta.items() if k != "call_labels"}}) for t in old
    ]
    assert share(bare, 300) is None
    assert "hidden_evidence_share" not in prompt_stats([], [])


def test_a_tiny_budget_still_shows_the_end_of_the_log_for_every_label(per_label):
    """At the CPU recipe's 300 tokens a long session keeps its last flows and the tools they call, never a bare
    note (a fallback that once made 36 different records, of 11 labels, render the same prompt)."""
    seen = set()
    for label, (traj, _) in per_label.items():
        long = inflate(traj, tools=60)
        text = render_log(long, 300).text
        assert approx_tokens(text) <= 300 and "does not fit" not in text, label
        n = len(derive_flows(long))
        assert re.search(rf"^{n}\. ", text, re.M), f"{label}: the last flow is not shown"
        seen.add(text)
    assert len(seen) == len(per_label)
