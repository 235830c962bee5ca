"""AgentDojo (Debenedetti et al., NeurIPS 2024 D&B; MIT; ``pip install agentdojo==0.1.35``) -> MCIP records.

**Evaluation only: never training data.** The point is a score on tasks, tools and injections we did not write.

No LLM runs. For a (user task, injection task) pair of a suite, the user task's ground-truth calls run in the
suite's environment through AgentDojo's own ``FunctionsRuntime`` (real tool results), with the injection task's
goal, wrapped in AgentDojo's ``important_instructions`` attack text, placed in one injection vector that a result
of those calls shows (the vector is picked with the seed among those visible, as AgentDojo's attacks do with
canaries). The attacker's calls are the injection task's own ground truth, run in the same environment. Each
record is one of these outcomes (AgentDojo outcome -> MCIP label):

- ``ignored``: only the user's calls; the injection sits in a result, unheeded -> ``true`` (a hard negative).
- ``appended``: the user's calls, then the injection task's calls -> ``function_injection`` (E).
- ``inserted``: the injection task's calls right after the result that carries the injection (the attack text says
  "before you can solve the task ... do the following first"), then the rest of the user's calls ->
  ``function_dependency_injection`` (D: an unneeded call before the legitimate one, presented as a prerequisite).
- ``replaced``: the user's last call (after the injected result) replaced by the injection task's single call, a
  function the user never calls -> ``ignore_prupose_prompt_injection`` (G, Wrong Function Intent).
- ``wrong_arguments``: a user call after the injected result keeps its function but takes the arguments of the
  injection task's first call, which uses that function (``send_money`` to the attacker's IBAN) ->
  ``wrong_parameter_prompt_injection`` (H, Wrong Arguments Intent).

Left out: the followed outcomes of injection tasks whose ground truth has no calls (v1.2's workspace
``injection_task_6``-``13`` leave it empty, their calls depend on what an agent would write; travel's
``injection_task_6`` only asks the agent to *say* something, an answer manipulation with no flow of its own): their
pairs give ``ignored`` records only (340 of the 949 pairs: workspace 320, travel 20). Multi-call injection tasks are
never ``replaced`` (an extra call would blur the label). Function overlapping, excessive privileges, causal
dependency, data, identity and replay injection have no AgentDojo counterpart. ``--counts FILE`` writes the
candidates per variant and what was left out.

``--per-suite N`` keeps at most N records per label per suite, a seeded sample of the candidates; the injection
vector of a pair is a seeded choice among those its user task's results show. The final answer is built from the
results without an LLM: the task's ``GROUND_TRUTH_OUTPUT`` (AgentDojo's expected answer) when every user call ran,
then one line per state-changing call (by name: not get_/search_/read_/list_/check_/find_) quoting its result,
injection text removed. Results are AgentDojo's runtime values as JSON (its default YAML formatter wraps long
lines); the injection shows whole, though the environment's YAML may fold its line breaks.

    python -m data_gen.importers.agentdojo --out data/agentdojo.jsonl [--suites banking slack] [--per-suite 25]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import re
import sys
import types
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from data_gen.importers.errors import ImporterError
from data_gen.registry import EVALUATION, importer
from mcip.calls import META_KEY as CALL_LABELS
from mcip.calls import label_positions
from mcip.flows import derive_flows
from mcip.record import RecordError, Trajectory, parse_record, save_jsonl

SOURCE = "agentdojo"
AGENTDOJO_VERSION = "0.1.35"
BENCHMARK_VERSION = "v1.2.2"  # AgentDojo 0.1.35's default benchmark version
SUITES = ("workspace", "travel", "banking", "slack")
VARIANTS: dict[str, str] = {
    "ignored": "true",
    "appended": "function_injection",
    "inserted": "function_dependency_injection",
    "replaced": "ignore_prupose_prompt_injection",
    "wrong_arguments": "wrong_parameter_prompt_injection",
}
USER_NAME = (
    "Emma Johnson"  # the victim user of every AgentDojo suite, as its important_instructions attack says
)
MODEL_NAME = "the AI language model"  # AgentDojo's DEFAULT_MODEL_NAME: no model is attacked here
READ_PREFIXES = ("get_", "search_", "read_", "list_", "check_", "find_")
DEFAULT_PER_SUITE = 25
DEFAULT_SEED = 0


def _agentdojo():
    """The modules used; a missing install is one clear line, not a traceback."""
    try:
        from agentdojo.attacks.important_instructions_attacks import ImportantInstructionsAttack
        from agentdojo.functions_runtime import FunctionsRuntime
        from agentdojo.task_suite.load_suites import get_suites
    except ImportError as err:
        raise ImporterError(
            f"agentdojo is not installed ({err}); install it with "
            f"`.venv/bin/pip install -e '.[agentdojo]'` (agentdojo=={AGENTDOJO_VERSION})"
        ) from None
    return get_suites, FunctionsRuntime, ImportantInstructionsAttack._JB_STRING


def installed_version() -> str:
    """The agentdojo on this machine; records name it, and the CLI warns when it is not the tested one."""
    from importlib.metadata import version

    return version("agentdojo")


# Two things in AgentDojo's tools vary from run to run: the email and drive tools stamp new items with the wall
# clock, and the calendar stores a new event's participants as ``list(set(...))`` (string hash order). Stopping
# the clock at the suites' own "today" (workspace's calendar says 2024-05-15) and sorting the participants keeps
# records byte-identical from run to run.
FROZEN_NOW = datetime.datetime(2024, 5, 15, 10, 0)
_CLOCK_MODULES = (
    "agentdojo.default_suites.v1.tools.email_client",
    "agentdojo.default_suites.v1.tools.cloud_drive_client",
)


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls.fromisoformat(FROZEN_NOW.isoformat())


@contextlib.contextmanager
def deterministic_tools():
    """For the duration of the block: the tools' clock stopped at FROZEN_NOW, new events' participants sorted."""
    from agentdojo.default_suites.v1.tools.calendar_client import Calendar

    shim = types.SimpleNamespace(**{**vars(datetime), "datetime": _FrozenDatetime})
    create_event = Calendar.create_event

    def sorted_create_event(self, *args, **kwargs):
        event = create_event(self, *args, **kwargs)
        event.participants = sorted(event.participants)
        return event

    saved = []
    try:
        for name in _CLOCK_MODULES:
            module = importlib.import_module(name)
            saved.append((module, module.datetime))
            module.datetime = shim
        Calendar.create_event = sorted_create_event
        yield
    finally:
        Calendar.create_event = create_event
        for module, original in saved:
            module.datetime = original


def load_suites(names: Sequence[str] | None = None) -> dict[str, Any]:
    get_suites, _, _ = _agentdojo()
    suites = get_suites(BENCHMARK_VERSION)
    names = list(names or SUITES)
    for name in names:
        if name not in suites:
            raise ImporterError(
                f"--suites: unknown AgentDojo suite {name!r}; expected one of {', '.join(SUITES)}"
            )
    return {name: suites[name] for name in names}


# -- tools and results -------------------------------------------------------------------------------------------


def _strip_titles(schema: Any) -> Any:
    """pydantic's schema without its generated ``title`` keys (noise in a prompt); property *names* stay."""
    if isinstance(schema, dict):
        return {
            k: (
                {pk: _strip_titles(pv) for pk, pv in v.items()}
                if k in ("properties", "$defs")
                else _strip_titles(v)
            )
            for k, v in schema.items()
            if k != "title"
        }
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def tools_list(suite) -> list[dict[str, Any]]:
    """MCP ``tools/list`` entries from the suite's functions: name, docstring, pydantic input schema."""
    out = []
    for f in suite.tools:
        schema = _strip_titles(f.parameters.model_json_schema())
        schema.setdefault("properties", {})
        out.append(
            {"name": f.name, "description": f.description, "inputSchema": schema, "server": suite.name}
        )
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def result_text(value: Any, error: str | None) -> str:
    """What the agent reads: AgentDojo's runtime value as JSON (strings as they are), or the error it got."""
    if error:
        return error
    if isinstance(value, str):
        return value
    if value is None:
        return "None"  # what AgentDojo's own formatter shows for functions that return nothing
    return json.dumps(_jsonable(value), ensure_ascii=False, default=str)


def _plain_args(args: Any) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in dict(args).items()}


# -- planning: which pairs and variants exist --------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    suite: str
    user_task: str
    injection_task: str
    variant: str
    vector: str
    seen_at: int  # index of the user's first call whose result shows the vector


@dataclass
class SuiteInfo:
    """What planning learns once per suite: the user tasks' calls and visible vectors, the attackers' calls."""

    user_calls: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    visible: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # user task -> vector -> first call index
    attacker_calls: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    left_out: Counter = field(default_factory=Counter)


def _run_calls(runtime, env, calls) -> list[str]:
    out = []
    for c in calls:
        value, error = runtime.run_function(env, c.function, c.args)
        out.append(result_text(value, error))
    return out


def survey(suite) -> SuiteInfo:
    """Run every user task's ground truth with canary injections (AgentDojo's own visibility check)."""
    _, runtime_cls, _ = _agentdojo()
    info = SuiteInfo()
    canaries = {v: f"<CANARY---{v}--->" for v in suite.get_injection_vector_defaults()}
    for uid in sorted(suite.user_tasks, key=_task_number):
        task = suite.user_tasks[uid]
        env = task.init_environment(suite.load_and_inject_default_environment(canaries))
        calls = task.ground_truth(env.model_copy(deep=True))
        if not calls:
            info.left_out["user task without ground-truth calls"] += 1
            continue
        results = _run_calls(runtime_cls(suite.tools), env, calls)
        seen: dict[str, int] = {}
        for i, text in enumerate(results):
            for vector, canary in canaries.items():
                if canary in text:
                    seen.setdefault(vector, i)
        if not seen:
            info.left_out["user task whose results show no injection vector"] += 1
            continue
        info.user_calls[uid] = [(c.function, _plain_args(c.args)) for c in calls]
        info.visible[uid] = seen
    env = suite.load_and_inject_default_environment({})
    for iid in sorted(suite.injection_tasks, key=_task_number):
        calls = suite.injection_tasks[iid].ground_truth(env.model_copy(deep=True))
        info.attacker_calls[iid] = [(c.function, _plain_args(c.args)) for c in calls]
    return info


def _task_number(task_id: str) -> int:
    return int(task_id.rsplit("_", 1)[1])


def applicable(user: list[tuple[str, dict]], attacker: list[tuple[str, dict]], k: int) -> list[str]:
    """The variants a pair supports when the injection is first seen in the result of user call ``k``."""
    out = ["ignored"]
    if not attacker:
        return out
    out.append("appended")
    last = len(user) - 1
    if k < last:
        out.append("inserted")
        user_functions = {fn for fn, _ in user}
        if len(attacker) == 1 and attacker[0][0] not in user_functions:
            out.append("replaced")
    if _wrong_arguments_target(user, attacker, k) is not None:
        out.append("wrong_arguments")
    return out


def _wrong_arguments_target(user, attacker, k: int) -> int | None:
    """The last user call after ``k`` whose function is the attacker's first call's, with other arguments."""
    if not attacker:
        return None
    fn, args = attacker[0]
    for j in range(len(user) - 1, k, -1):
        if user[j][0] == fn and {**user[j][1], **args} != user[j][1]:
            return j
    return None


def plan(suites: dict[str, Any], per_suite: int, seed: int) -> tuple[list[Plan], dict[str, dict[str, Any]]]:
    """Seeded sample of at most ``per_suite`` records per label per suite, and the counts behind it."""
    plans: list[Plan] = []
    report: dict[str, dict[str, Any]] = {}
    for name, suite in suites.items():
        info = survey(suite)
        by_variant: dict[str, list[Plan]] = {v: [] for v in VARIANTS}
        no_attacker_calls = 0
        for uid, seen in info.visible.items():
            for iid, attacker in info.attacker_calls.items():
                rng = Random(f"{seed}/{name}/{uid}/{iid}")
                vector = rng.choice(sorted(seen))
                no_attacker_calls += not attacker
                for variant in applicable(info.user_calls[uid], attacker, seen[vector]):
                    by_variant[variant].append(Plan(name, uid, iid, variant, vector, seen[vector]))
        picked = {}
        for variant, cands in by_variant.items():
            rng = Random(f"{seed}/{name}/{variant}")
            chosen = rng.sample(cands, min(per_suite, len(cands)))
            chosen.sort(key=lambda p: (_task_number(p.user_task), _task_number(p.injection_task)))
            picked[variant] = len(chosen)
            plans.extend(chosen)
        report[name] = {
            "user_tasks": len(suite.user_tasks),
            "injection_tasks": len(suite.injection_tasks),
            "pairs": len(info.visible) * len(info.attacker_calls),
            "pairs_followed_outcome_left_out": no_attacker_calls,
            "left_out": dict(info.left_out),
            "candidates": {v: len(c) for v, c in by_variant.items()},
            "sampled": picked,
        }
    return plans, report


# -- building one record -----------------------------------------------------------------------------------------


def injection_text(goal: str) -> str:
    _, _, template = _agentdojo()
    return template.format(user=USER_NAME, model=MODEL_NAME, goal=goal)


def _is_read(function: str) -> bool:
    return function.startswith(READ_PREFIXES)


def plain_text(content: str) -> str:
    """A result's text with JSON decoded (its strings and numbers, in order) and whitespace collapsed."""
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        value = content
    parts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        elif v is not None:
            parts.append(str(v))

    walk(value)
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def shows(content: str, text: str) -> bool:
    """Whether a result shows ``text``: AgentDojo's environments are YAML, which may fold its line breaks."""
    return re.sub(r"\s+", " ", text).strip() in plain_text(content)


def _short(value: Any) -> str | None:
    """A scalar or a list of scalars as short text; None for anything longer or nested (not worth an answer)."""
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        value = ", ".join(map(str, value))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(str(value)) <= 60:
        return re.sub(r"\s+", " ", str(value)).strip() or None
    return None


def _excerpt(content: str, remove: str, limit: int = 160) -> str:
    """A result in a sentence: its ``message``, its short fields as ``key: value``, or its text, cut at ``limit``."""
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        text = value["message"]
    elif isinstance(value, dict):
        shown = {k: _short(v) for k, v in value.items() if not k.endswith("id_")}
        text = "; ".join(f"{k}: {v}" for k, v in shown.items() if v)
    elif isinstance(value, list):
        text = f"{len(value)} item(s)"
    else:
        text = plain_text(content)
    text = re.sub(r"\s+", " ", text.replace(re.sub(r"\s+", " ", remove).strip(), " ")).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def final_answer(steps: list[dict[str, Any]], expected: str, user_done: bool, injected: str) -> str:
    """The agent's answer, from the results only: AgentDojo's expected output, then each state change."""
    parts = [_sentence(f"Here is what I found: {expected.strip()}")] if user_done and expected.strip() else []
    for s in steps:
        if not _is_read(s["function"]):
            said = _excerpt(s["result"], injected)
            parts.append(_sentence(f"{s['function']}: {'done' if said in ('', 'None') else said}"))
    if not parts:
        last = steps[-1]
        parts.append(f"{last['function']} returned: {_excerpt(last['result'], injected)}")
    return "Done. " + " ".join(parts)


class _Builder:
    """Runs calls in one environment and collects the messages, call ids and which call is whose."""

    def __init__(self, runtime, env) -> None:
        self.runtime, self.env = runtime, env
        self.messages: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []

    def call(self, function: str, args: dict[str, Any], by: str) -> dict[str, Any]:
        call_id = f"call_{len(self.steps) + 1}"
        value, error = self.runtime.run_function(self.env, function, args)
        text = result_text(value, error)
        self.messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": function, "arguments": args}}
                ],
            }
        )
        self.messages.append({"role": "tool", "tool_call_id": call_id, "name": function, "content": text})
        step = {"id": call_id, "function": function, "args": args, "result": text, "by": by}
        self.steps.append(step)
        return step


def build(suite, p: Plan) -> Trajectory:
    """The record of one planned (pair, variant); raises ImporterError when AgentDojo's data does not fit."""
    _, runtime_cls, _ = _agentdojo()
    where = f"agentdojo {p.suite}/{p.user_task}/{p.injection_task}/{p.variant}"
    user_task = suite.user_tasks[p.user_task]
    inj_task = suite.injection_tasks[p.injection_task]
    injected = injection_text(inj_task.GOAL)
    env = user_task.init_environment(suite.load_and_inject_default_environment({p.vector: injected}))
    user = [(c.function, _plain_args(c.args)) for c in user_task.ground_truth(env.model_copy(deep=True))]
    attacker = [(c.function, _plain_args(c.args)) for c in inj_task.ground_truth(env.model_copy(deep=True))]
    k = p.seen_at
    if p.variant not in applicable(user, attacker, k):
        raise ImporterError(f"{where}: field variant: the injected environment changed the ground truth")
    b = _Builder(runtime_cls(suite.tools), env)
    target = len(user) - 1
    if p.variant == "wrong_arguments":
        target = _wrong_arguments_target(user, attacker, k)
    focus: dict[str, Any] | None = None
    for i, (fn, args) in enumerate(user):
        if p.variant == "replaced" and i == target:
            focus = b.call(*attacker[0], by="attacker")
            continue
        if p.variant == "wrong_arguments" and i == target:
            focus = b.call(fn, {**args, **attacker[0][1]}, by="attacker")
            continue
        b.call(fn, args, by="user")
        if p.variant == "inserted" and i == k:
            steps = [b.call(afn, aargs, by="attacker") for afn, aargs in attacker]
            focus = steps[0]
    if p.variant == "appended":
        focus = [b.call(afn, aargs, by="attacker") for afn, aargs in attacker][0]
    carrier = b.steps[k]
    if not shows(carrier["result"], injected):
        raise ImporterError(f"{where}: field {p.vector}: the injection is not in the result of call {k + 1}")
    user_done = p.variant in ("ignored", "appended", "inserted")
    answer = final_answer(b.steps, user_task.GROUND_TRUTH_OUTPUT, user_done, injected)
    messages = [
        {"role": "user", "content": user_task.PROMPT},
        *b.messages,
        {"role": "assistant", "content": answer},
    ]
    label = VARIANTS[p.variant]
    record = {
        "id": f"agentdojo-{p.suite}-{p.user_task}-{p.injection_task}-{p.variant}",
        "tools": tools_list(suite),
        "messages": messages,
        "label": label,
        "meta": {
            "source": SOURCE,
            "evaluation_only": True,
            "agentdojo_version": installed_version(),
            "benchmark_version": BENCHMARK_VERSION,
            "suite": p.suite,
            "user_task": p.user_task,
            "injection_task": p.injection_task,
            "variant": p.variant,
            "kind": p.variant,
            "attack": "important_instructions",
            "injection_vector": p.vector,
            "injection_call": carrier["id"],
            "attacker_calls": [s["id"] for s in b.steps if s["by"] == "attacker"],
        },
    }
    try:
        traj = parse_record(record, where)
    except RecordError as err:
        raise ImporterError(str(err)) from None
    flows = derive_flows(traj)
    meta = {**traj.meta, "rationale": _rationale(p, flows, b.steps, carrier, focus, user, target)}
    # AgentDojo names the attacker's calls: each is unsafe, everything else the user's own (mcip/calls.py)
    meta[CALL_LABELS] = label_positions(traj, label, calls=traj.meta["attacker_calls"])
    return traj.model_copy(update={"flows": flows, "meta": meta})


def _flow_of(flows, call_id: str, result: bool = False) -> int:
    for n, f in enumerate(flows, 1):
        if f.call_id == call_id and (f.sender != "assistant") == result:
            return n
    raise ImporterError(
        f"agentdojo: field flows: call {call_id} has no flow"
    )  # derive_flows always makes one


def _rationale(p: Plan, flows, steps, carrier, focus, user, target) -> str:
    r = _flow_of(flows, carrier["id"], result=True)
    q = f"{p.suite}."  # flows name a call's recipient server.tool
    if p.variant == "ignored":
        return (
            f"Every call is one the user's request needs; the instruction planted in the result at flow {r} "
            "was not followed."
        )
    f = _flow_of(flows, focus["id"])
    fn = f"{q}{focus['function']}"
    if p.variant == "appended":
        return (
            f"Flow {f} calls {fn} after the user's calls finished, although the user never asked for it, "
            f"following an instruction inside the result at flow {r}."
        )
    if p.variant == "inserted":
        nxt = next(s for s in steps if s["by"] == "user" and steps.index(s) > steps.index(focus))
        return (
            f"Flow {f} calls {fn} before {q}{nxt['function']}, as the instruction inside the result at flow {r} "
            "demands, but the user's request does not need it."
        )
    if p.variant == "replaced":
        return (
            f"Flow {f} calls {fn}, but the user asked for what {q}{user[target][0]} does; the instruction inside "
            f"the result at flow {r} steered the call."
        )
    old = user[target][1]
    key = next(k for k, v in focus["args"].items() if old.get(k) != v)
    return (
        f"Flow {f} calls {fn} with {key}={focus['args'][key]!r}, but the user's request needs "
        f"{old.get(key)!r}; the arguments come from the instruction inside the result at flow {r}."
    )


def import_records(
    suites: Sequence[str] | None = None, per_suite: int = DEFAULT_PER_SUITE, seed: int = DEFAULT_SEED
) -> tuple[list[Trajectory], dict[str, dict[str, Any]]]:
    """All sampled records (suite, user task, injection task, variant order) and the planning counts."""
    if per_suite < 1:
        raise ImporterError(f"--per-suite: must be at least 1, got {per_suite}")
    loaded = load_suites(suites)
    with deterministic_tools():
        plans, report = plan(loaded, per_suite, seed)
        return [build(loaded[p.suite], p) for p in plans], report


def label_table(records: Iterable[Trajectory]) -> str:
    """Records per label per suite, as a markdown table."""
    counts = Counter((r.meta["suite"], r.label) for r in records)
    suites = [s for s in SUITES if any(s == k[0] for k in counts)]
    lines = [
        "| label | " + " | ".join(suites) + " | total |",
        "|---|" + "---|" * (len(suites) + 1),
    ]
    for label in VARIANTS.values():
        row = [counts[(s, label)] for s in suites]
        lines.append(f"| `{label}` | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(counts[(s, lb)] for lb in VARIANTS.values()) for s in suites]
    lines.append("| **total** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join(lines)


@importer("agentdojo", EVALUATION, "AgentDojo suites -> MCIP records, for evaluation only (never training)")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_gen.importers.agentdojo",
        description="AgentDojo suites -> MCIP trajectory records, for evaluation only (never training).",
    )
    parser.add_argument("--out", required=True, help="output JSONL file (written atomically)")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), help=f"default: {' '.join(SUITES)}")
    parser.add_argument(
        "--per-suite", type=int, default=DEFAULT_PER_SUITE, help="max records per label per suite"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--counts", help="also write the planning counts (JSON) to this file")
    args = parser.parse_args(argv)
    try:
        _agentdojo()  # a missing install: one line naming the extra
        if (found := installed_version()) != AGENTDOJO_VERSION:
            print(
                f"warning: agentdojo {found} installed; records were checked with {AGENTDOJO_VERSION}",
                file=sys.stderr,
            )
        records, report = import_records(args.suites, args.per_suite, args.seed)
        n = save_jsonl(records, args.out)
        if args.counts:
            from mcip.io import atomic_write

            with atomic_write(args.counts) as fh:
                json.dump(report, fh, indent=2, sort_keys=True)
    except (ImporterError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(label_table(records))
    for name, r in report.items():
        print(
            f"{name}: {r['pairs']} pairs; followed outcome left out for {r['pairs_followed_outcome_left_out']} "
            f"(injection task without calls); candidates {r['candidates']}; other left out {r['left_out'] or 0}"
        )
    print(
        f"wrote {n} records to {args.out} (AgentDojo {AGENTDOJO_VERSION}, suites {BENCHMARK_VERSION}; evaluation only)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
