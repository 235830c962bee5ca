"""A label for every proposed call of a record, and for every answer: what a guard judging each call must say.

A record's label answers "which class fits this finished log?"; a runtime guard asks, at every call, "is *this*
call safe, given the session so far?". Generated records know where they deviate (the transform's focus), so each
position gets its own label, in message order (``meta.call_labels``: ``{"call": id, "label": ...}`` for every tool
call, ``{"answer": message index, "label": ...}`` for every assistant answer):

- the positions **before** the deviating one are safe: the session was fine up to there;
- the **deviating call** carries the record's class; where no call deviates but an answer does (Data Injection:
  the answer carries data no call returned) that **answer** carries it;
- the positions **after** it are judged on their own merit. Every transform of the generator changes exactly one
  call (or one answer), so for generated records what follows is the user's own plan resumed: safe. A source that
  knows better (an importer naming several attacker calls) labels them itself.

The paper's record label stays derivable (``record_label``): the first unsafe position's class, or ``true``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from mcip.flows import derive_flows
from mcip.record import Trajectory
from mcip.taxonomy import SAFE

META_KEY = "call_labels"
Position = dict  # {"call": id, "label": str} or {"answer": message index, "label": str}


class CallLabelError(ValueError):
    """The deviating call or answer a record names is not in it."""


def positions(traj: Trajectory) -> list[Position]:
    """Every tool call and every assistant answer (a message with text and no calls), in message order, unlabelled."""
    out: list[Position] = []
    for i, m in enumerate(traj.messages):
        if m.role != "assistant":
            continue
        if m.tool_calls:
            out.extend({"call": c.id} for c in m.tool_calls)
        elif m.content:
            out.append({"answer": i})
    return out


def per_call_labels(
    traj: Trajectory, label: str, focus_call: str | None, focus: int | None = None
) -> list[Position]:
    """Each position of ``traj`` labelled, for a record of class ``label`` whose deviating call is ``focus_call``
    (else the answer at message ``focus`` deviates; both None for a safe record)."""
    if label == SAFE:
        return label_positions(traj, SAFE)
    if focus_call is not None:
        return label_positions(traj, label, calls=[focus_call])
    if focus is not None:
        return label_positions(traj, label, answers=[focus])
    raise CallLabelError(f"a {label} record names neither its deviating call nor its deviating answer")


def label_positions(
    traj: Trajectory, label: str, calls: Collection[str] = (), answers: Collection[int] = ()
) -> list[Position]:
    """Each position of ``traj`` labelled: the ``calls`` (ids) and ``answers`` (message indexes) named carry
    ``label``, every other position is safe. For sources that name every unsafe call (an importer's attacker)."""
    out = positions(traj)
    named = {("call", c) for c in calls} | {("answer", a) for a in answers}
    missing = named - {_key(p) for p in out}
    if missing:
        what = ", ".join(f"{k} {v!r}" for k, v in sorted(missing, key=str))
        raise CallLabelError(f"the deviating {what}: not among the record's positions {out}")
    return [{**p, "label": label if _key(p) in named else SAFE} for p in out]


def _key(p: Position) -> tuple[str, str | int]:
    return ("call", p["call"]) if "call" in p else ("answer", p["answer"])


def record_label(labels: list[Position]) -> str:
    """The paper's record-level label: the first unsafe position's class, else ``true``."""
    return first_unsafe(p["label"] for p in labels)


def first_unsafe(labels: Iterable[str]) -> str:
    """A session's verdict from its positions' verdicts, in order: the first unsafe one's class, else ``true`` (how
    ``record_label`` reads gold labels, and how evaluation and calibration read a guardian's per-call verdicts)."""
    return next((lb for lb in labels if lb != SAFE), SAFE)


def deviating_flow(traj: Trajectory) -> int | None:
    """The number (1-based, as the log shows it) of the flow that carries the record's class: its first unsafe
    call or answer in ``meta.call_labels``; None for a safe record or one without per-call labels."""
    bad = next((p for p in (traj.meta or {}).get(META_KEY) or () if p["label"] != SAFE), None)
    if bad is None:
        return None
    for n, flow in enumerate(traj.flows or derive_flows(traj), 1):
        if "call" in bad and flow.call_id == bad["call"] and flow.sender == "assistant":
            return n
        if "answer" in bad and flow.message == bad["answer"]:
            return n
    return None


_CITED = re.compile(r"\b[Ff]lows? (\d+)")


def cited_flows(rationale: str) -> list[int]:
    """The flow numbers a generated rationale cites ("Flow 5 repeats ... at flow 2" -> [2, 5])."""
    return sorted({int(n) for n in _CITED.findall(rationale)})


def evidence_flows(traj: Trajectory) -> list[int]:
    """The flows an unsafe record's verdict rests on: its deviating flow and every flow its rationale cites (a
    replay's first call, the result that carried an injection); empty for a safe record or one without per-call
    labels."""
    n = deviating_flow(traj)
    if n is None:
        return []
    return sorted({n, *cited_flows(str((traj.meta or {}).get("rationale") or ""))})


def upto_position(traj: Trajectory, k: int) -> Trajectory:
    """``traj`` as it stood when position ``k`` (``positions``) was proposed: its message and everything before it
    (calls proposed beside it in the same message stay, as the guard saw them)."""
    p = positions(traj)[k]
    end = p.get("answer")
    if "call" in p:
        end = next(
            i for i, m in enumerate(traj.messages) if any(c.id == p["call"] for c in m.tool_calls or ())
        )
    return traj.model_copy(update={"messages": traj.messages[: end + 1], "flows": None})
