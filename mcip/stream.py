"""A session as an append-only chat: the guardian judges every call as the session grows (issue 22).

The one-shot prompt (``mcip.prompt.build_prompt``) asks "which class fits this finished log?", so a guard that
checks each call re-reads the whole session every time and training learns one answer per session. Here the same
pieces (the style's policy, the tool list, numbered MCI flows with the data they carried) are split into turns:

- the first user turn holds the tool list and the flows up to the first position to judge (a proposed call, or an
  answer to the user);
- an assistant turn after each position holds the verdict on it (``mcip.prompt.format_answer``);
- each later user turn holds only the flows since the previous position (its result, the next request, ...) up to
  the next position.

What the guardian reads before position k is a prefix of what it reads before position k+1 (``prefix``), so a
guard keeps the key/value cache between calls and pays only for the new turn, and training supervises every
verdict of a session in one forward pass (the labels come from ``meta.call_labels``, ``mcip.calls``).
Nothing is cut here: fitting a session that outgrows the context (re-cut the history once, start a new prefix)
is the caller's, with ``mcip.prompt.render_log``.
"""

from __future__ import annotations

from mcip.calls import META_KEY, Position, positions
from mcip.flows import derive_flows
from mcip.prompt import LOG_BEGIN, _assemble, _tool_lines, flow_lines, format_answer, system_policy
from mcip.record import Trajectory

Messages = list[dict[str, str]]
STREAM_HEAD = "Judge each proposed call of this MCP session, and the answers, as they come."


class StreamError(ValueError):
    """A session that cannot be streamed (a position without its flow, labels that do not match its positions)."""


def _position_flows(traj: Trajectory, flows) -> list[int]:
    """For each position (``mcip.calls.positions``), the index of the flow that carries it."""
    out = []
    for p in positions(traj):
        if "call" in p:
            hit = [i for i, f in enumerate(flows) if f.call_id == p["call"] and f.sender == "assistant"]
        else:
            hit = [i for i, f in enumerate(flows) if f.message == p["answer"] and f.call_id is None]
        if not hit:
            raise StreamError(f"position {p} has no flow in the log")
        out.append(hit[0])
    return out


def turns(traj: Trajectory, style: str = "compact") -> list[str]:
    """The user turns, one per position: the flows since the previous position, the first with the tool list."""
    compact = style == "compact"
    flows = traj.flows or derive_flows(traj)
    ends = _position_flows(traj, flows)
    out, start = [], 0
    for n, end in enumerate(ends):
        parts = [p for i in range(start, end + 1) for p in flow_lines(traj, i + 1, flows[i], compact)]
        if n == 0:
            every = set(range(len(traj.tools)))
            parts = [*_tool_lines(traj, every, "full", compact), LOG_BEGIN, *parts]
        text, _ = _assemble(parts, {}, [])
        out.append(f"{STREAM_HEAD}\n{text}" if n == 0 else text)
        start = end + 1
    return out


def stream_messages(
    traj: Trajectory, style: str = "compact", labels: list[Position] | None = None
) -> Messages:
    """The whole session as chat: the policy, then a user turn and a verdict per position. ``labels`` (default the
    record's ``meta.call_labels``) give the verdicts; the positions must be the log's own, in order."""
    labels = labels if labels is not None else (traj.meta or {}).get(META_KEY)
    if labels is None:
        raise StreamError(f"record {traj.id}: field meta.{META_KEY}: missing (made by `make data`)")
    found = positions(traj)
    if [{k: v for k, v in p.items() if k != "label"} for p in labels] != found:
        raise StreamError(
            f"record {traj.id}: field meta.{META_KEY}: does not match the log's positions {found}"
        )
    out: Messages = [{"role": "system", "content": system_policy(style)}]
    for text, p in zip(turns(traj, style), labels):
        out += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": format_answer(p["label"])},
        ]
    return out


def prefix(messages: Messages, k: int) -> Messages:
    """What the guardian reads before judging position ``k`` (0-based): the system turn and everything up to the
    k-th user turn; the verdicts before it are kept (the guard's own, or the labels in training)."""
    if not 0 <= k < (len(messages) - 1) // 2:
        raise StreamError(f"position {k}: the session has {(len(messages) - 1) // 2} positions")
    return messages[: 2 + 2 * k]
