"""How a model reads a log: its prompt format and the room its context leaves for the log, one rule everywhere.

Training, evaluation, export verification and the runtime guard all size a log with ``fit_log_budget``, so a log
gets the same room at every stage: the model's context (``max_position_embeddings``, or a recipe's
``max_length`` at training time) minus the chat template around the user message (system policy, role markers,
the generation prompt) and the room the answer needs, or the saved format's own ``log_budget`` where that is
smaller. A model without a saved format gets the same rule in the full style, never "no budget", so no input is
fed past the model's positions. Logs that do not fit are cut by the evidence-keeping renderer
(``mcip.prompt.render_log``), and the prompt says so. At inference the answer's room is the most tokens a
guardian answer is generated to (``ANSWER_ROOM``), so scoring and generation read the same prompts.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mcip.calls import deviating_flow, evidence_flows
from mcip.prompt import (
    PromptFormat,
    TokenCounter,
    approx_tokens,
    build_paper_prompt,
    flow_legible,
    is_truncated,
    system_policy,
)
from mcip.record import Trajectory
from mcip.scoring import encode, render_chat

# Tokens kept free beyond the answer: a tokenizer can merge across the join of template and message.
MARGIN = 8
# The answer's room, and the most tokens an answer is generated to: the verdict, "Choice: <letter>. <name>" and
# a one-line rationale (guardian protocol); the paper protocol's reasoning comes before its choice.
ANSWER_ROOM = 64
PAPER_ANSWER_ROOM = 384
# Fewer tokens than this left for the log at inference: the context is too small to judge anything.
MIN_LOG_ROOM = 32


class ContextError(ValueError):
    pass


def token_counter(tokenizer) -> TokenCounter:
    """The one token counter: this tokenizer's tokens, no special tokens (the template adds those)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False).input_ids)


def template_overhead(tokenizer, style: str, paper: bool = False, relations: bool = False) -> int:
    """Tokens of the chat prompt around the log: system policy (with its note on fact lines when ``relations``),
    role markers, generation prompt (and for the paper protocol its definitions and choices, which wrap the log
    inside the user message)."""
    if paper:
        empty = Trajectory.model_validate({"messages": [{"role": "user", "content": ""}]})
        messages = build_paper_prompt(empty)
    else:
        policy = system_policy(style, relations)
        messages = [{"role": "system", "content": policy}, {"role": "user", "content": ""}]
    return len(encode(tokenizer, render_chat(tokenizer, messages)))


def fit_log_budget(
    bound: int | None, context: int | None, overhead: int, answer_room: int, least: int = MIN_LOG_ROOM
) -> int | None:
    """The one budget rule: the tokens a log may take are what ``context`` leaves after the template's
    ``overhead``, the answer's room and ``MARGIN``, or the saved ``bound`` if smaller (no context: the bound
    alone). A context that leaves fewer than ``least`` tokens is a ContextError."""
    if context is None:
        return bound
    room = context - overhead - answer_room - MARGIN
    if room < least:
        raise ContextError(
            f"a context of {context} tokens leaves {room} for a log after a {overhead}-token template and a "
            f"{answer_room}-token answer"
        )
    return min(room, bound) if bound else room


@dataclass
class Prompter:
    """Renders trajectories for one model: its format, its tokenizer's counts, the room its context leaves."""

    fmt: PromptFormat
    log_budget: int | None
    count_tokens: TokenCounter = approx_tokens
    paper: bool = False

    @classmethod
    def for_model(
        cls,
        tokenizer,
        fmt: PromptFormat,
        context: int | None,
        answer_room: int = ANSWER_ROOM,
        paper: bool = False,
    ) -> Prompter:
        if tokenizer is None:  # an endpoint without a local tokenizer: the format's bound, estimated counts
            return cls(fmt, fmt.log_budget, approx_tokens, paper)
        overhead = template_overhead(tokenizer, fmt.style, paper, fmt.relations)
        budget = fit_log_budget(fmt.log_budget, context, overhead, answer_room)
        return cls(fmt, budget, token_counter(tokenizer), paper)

    def messages(self, traj: Trajectory) -> list[dict[str, str]]:
        if self.paper:
            return build_paper_prompt(traj, self.log_budget, self.count_tokens)
        return self.fmt.messages(traj, self.count_tokens, self.log_budget)


def hidden_evidence(traj: Trajectory, prompt: list[dict[str, str]]) -> bool:
    """Whether an unsafe record's prompt no longer shows a flow its verdict rests on (``evidence_flows``: the
    deviating flow of ``meta.call_labels`` and the flows its rationale cites): cut away with old flows of a long
    session, it leaves a label the prompt cannot support."""
    text = prompt[-1]["content"]
    return any(not flow_legible(text, n) for n in evidence_flows(traj))


def prompt_stats(
    prompts: Sequence[list[dict[str, str]]],
    lengths: Sequence[int],
    trajectories: Sequence[Trajectory] | None = None,
) -> dict:
    """What a number measured on these prompts stands on: the share cut to fit, tokens per item and, given the
    records (guardian-format prompts), the share of unsafe items whose prompt hides the flow their label turns on,
    which no guardian reading it can find (None without per-call labels)."""
    ordered = sorted(lengths)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0
    hidden = {}
    if trajectories is not None:
        unsafe = [(t, p) for t, p in zip(trajectories, prompts) if deviating_flow(t) is not None]
        share = sum(hidden_evidence(t, p) for t, p in unsafe) / len(unsafe) if unsafe else None
        hidden = {"hidden_evidence_share": None if share is None else round(share, 4)}
    return {
        **hidden,
        "truncated_share": round(
            sum(is_truncated(p[-1]["content"]) for p in prompts) / max(len(prompts), 1), 4
        ),
        "prompt_tokens": {
            "median": int(statistics.median(ordered)) if ordered else 0,
            "p90": p90,
            "max": ordered[-1] if ordered else 0,
        },
    }
