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
guard keeps the key/value cache between calls (``mcip.incremental``) and pays only for the new turn, and training
supervises every verdict of a session in one forward pass (the labels come from ``meta.call_labels``,
``mcip.calls``).

A session that outgrows the room its model's context leaves is split into **chats** (``chats``), each one
append-only: a chat's first user turn holds everything up to its first position, and where that is more than
half the room it is re-cut by the evidence-keeping renderer (``mcip.prompt.render_log``: the user's requests,
the calls' arguments and the called tools stay longest; the turn says what was cut). Later turns are appended
while they fit; the first that does not starts the next chat, so a re-cut happens at most once per half a room
of new tokens. Training and the guard split the same way.
"""

from __future__ import annotations

from mcip.calls import META_KEY, Position, positions, upto_position
from mcip.flows import derive_flows
from mcip.prompt import (
    LOG_BEGIN,
    LOG_END,
    PROPOSED_NOTE,
    PromptFormat,
    TokenCounter,
    _assemble,
    _tool_lines,
    approx_tokens,
    flow_lines,
    format_answer,
    render_log,
    system_policy,
)
from mcip.record import Trajectory
from mcip.relations import call_relations
from mcip.taxonomy import LABEL_STRINGS

# Tokens one stream chat may take before a growing session re-cuts into a new chat (``mcip.stream.chats``). A new
# token attends to the whole chat, so a check's cost grows with it: on 2 AVX2 cores one check took 1.1 s at 1k
# tokens, 1.4 s at 4k, 2.1 s at 8k and 5.2 s at 16k (benchmarks/results/guard_latency_context20k.json). Bounding
# the chat at 4k keeps a check near the 4k cost however long the session runs; the re-cut that opens each new
# chat (the history cut by the evidence-keeping renderer to at most half the window) costs one cold pass every
# ~2k tokens of session. A guardian trained on 1k-token chats reads 4k ones closer to its training than 8k ones.
STREAM_WINDOW = 4096

Messages = list[dict[str, str]]
STREAM_HEAD = "Judge each proposed call of this MCP session, and the answers, as they come."
COMPACT = PromptFormat("compact", stream=True)  # the stream recipes' format, without relations


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


def turns(
    traj: Trajectory,
    fmt: PromptFormat = COMPACT,
    opening: int = 0,
    upto: int | None = None,
    facts: dict[int, str] | None = None,
) -> list[str]:
    """The user turns of positions ``opening`` to ``upto`` (default: the last), one per position: the flows since
    the previous position; the first (position ``opening``'s) holds the tool list and every flow before it.
    Where ``fmt.relations``, each call carries its facts line (``mcip.relations``: from earlier flows only, so
    turns stay append-only); ``facts`` passes them in where a caller already computed them for this log."""
    compact = fmt.style == "compact"
    flows = traj.flows or derive_flows(traj)
    if facts is None:
        facts = call_relations(traj, flows) if fmt.relations else {}
    ends = _position_flows(traj, flows)
    out = []
    for n, end in enumerate(ends[:upto]):
        if n < opening:
            continue
        start = ends[n - 1] + 1 if n > opening else 0
        parts = [
            p
            for i in range(start, end + 1)
            for p in flow_lines(traj, i + 1, flows[i], compact, facts.get(i + 1))
        ]
        if n == opening:
            every = set(range(len(traj.tools)))
            parts = [*_tool_lines(traj, every, "full", compact), LOG_BEGIN, *parts]
        text, _ = _assemble(parts, {}, [])
        out.append(f"{STREAM_HEAD}\n{text}" if n == opening else text)
    return out


def recut_opening(
    traj: Trajectory, k: int, fmt: PromptFormat, budget: int, count_tokens: TokenCounter
) -> str:
    """Position ``k``'s opening turn cut to ``budget`` tokens: everything up to and including its flow, rendered
    by the evidence-keeping renderer (the log stays open: no end marker, no proposed-call note)."""
    upto = upto_position(traj, k)
    head = f"{STREAM_HEAD}\n"
    room = budget - count_tokens(head)
    for _ in range(4):  # dropping the end marker frees a few tokens; a tokenizer may merge across joins
        text = render_log(upto, max(room, 1), count_tokens, fmt.style == "compact", fmt.relations).text
        lines = [x for x in text.split("\n") if x not in (LOG_END, PROPOSED_NOTE)]
        out = head + "\n".join(lines)
        over = count_tokens(out) - budget
        if over <= 0:
            return out
        room -= over
    return out


# Tokens a chat template adds around one message (role markers, end of turn), counted generously.
TURN_OVERHEAD = 8


def chats(
    traj: Trajectory,
    verdicts: list[str | None],
    fmt: PromptFormat,
    room: int | None = None,
    count_tokens: TokenCounter = approx_tokens,
) -> list[Messages]:
    """The session as one or more append-only chats within ``room`` tokens each (None: one chat, never cut), in
    format ``fmt`` (its style, relations lines and policy). A chat's opening turn takes at most half the room, or
    ``fmt.log_budget`` if less.

    ``verdicts`` holds a label for each of the first positions (``mcip.calls.positions``; the positions after
    them are left out); a trailing None leaves the last position awaiting its verdict (the guard's question),
    so the last chat ends with a user turn.
    """
    found = positions(traj)
    if not 0 < len(verdicts) <= len(found):
        raise StreamError(f"record {traj.id}: {len(verdicts)} verdicts for {len(found)} positions")
    if any(v is None for v in verdicts[:-1]):
        raise StreamError(f"record {traj.id}: only the last position may await its verdict")
    system = {"role": "system", "content": system_policy(fmt.style, fmt.relations)}
    facts = call_relations(traj, traj.flows or derive_flows(traj)) if fmt.relations else {}
    texts = turns(traj, fmt, upto=len(verdicts), facts=facts)

    # every turn is costed with the longest verdict, known or not, so a chat splits where it will split once the
    # pending verdict is in: what the guard reads before a verdict stays a prefix of what it reads after it
    answer = max(count_tokens(format_answer(lb)) for lb in LABEL_STRINGS)

    def cost(text: str) -> int:
        return count_tokens(text) + answer + 2 * TURN_OVERHEAD

    base = count_tokens(system["content"]) + TURN_OVERHEAD
    out: list[Messages] = []
    chat: Messages = []
    used = 0
    for k, (text, verdict) in enumerate(zip(texts, verdicts)):
        if chat and room is not None and used + cost(text) > room:
            out.append(chat)
            chat = []
        if not chat:
            opening = turns(traj, fmt, opening=k, upto=k + 1, facts=facts)[0] if k else text
            half = None if room is None else (room - base) // 2
            if fmt.log_budget is not None:
                half = min(half or fmt.log_budget, fmt.log_budget)
            if half is not None and cost(opening) > half:
                opening = recut_opening(traj, k, fmt, half - cost(""), count_tokens)
            chat, used, text = [system], base, opening
        chat.append({"role": "user", "content": text})
        used += cost(text)
        if verdict is not None:
            chat.append({"role": "assistant", "content": format_answer(verdict)})
    out.append(chat)
    return out


def stream_messages(
    traj: Trajectory, fmt: PromptFormat = COMPACT, labels: list[Position] | None = None
) -> Messages:
    """The whole session as chat in format ``fmt``: the policy, then a user turn and a verdict per position.
    ``labels`` (default the record's ``meta.call_labels``) give the verdicts; the positions must be the log's
    own, in order."""
    labels = labels if labels is not None else (traj.meta or {}).get(META_KEY)
    if labels is None:
        raise StreamError(f"record {traj.id}: field meta.{META_KEY}: missing (made by `make data`)")
    found = positions(traj)
    if [{k: v for k, v in p.items() if k != "label"} for p in labels] != found:
        raise StreamError(
            f"record {traj.id}: field meta.{META_KEY}: does not match the log's positions {found}"
        )
    out: Messages = [{"role": "system", "content": system_policy(fmt.style, fmt.relations)}]
    for text, p in zip(turns(traj, fmt), labels):
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
