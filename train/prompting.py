"""How a model reads a log: its prompt format and the room its context leaves for the log, one rule everywhere.

Training, evaluation, export verification and the runtime guard all render prompts through ``Prompter``, so a
log gets the same room at every stage: the model's context (``max_position_embeddings``, or a recipe's
``max_length`` at training time) minus the chat template around the user message (system policy, role markers,
the generation prompt) and the room the answer needs, or the saved format's own ``budget_tokens`` where that is
smaller. A model without a saved format gets the same rule in the full style, never "no budget", so no input is
fed past the model's positions. Logs that do not fit are cut by the evidence-keeping renderer
(``mcip.prompt.render_log``), and the prompt says so.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcip.prompt import (
    PromptFormat,
    TokenCounter,
    approx_tokens,
    build_paper_prompt,
    is_truncated,
    system_policy,
)
from mcip.record import Trajectory

# Tokens kept free beyond the answer: a tokenizer can merge across the join of template and message.
MARGIN = 8
# Room for the answer in fast scoring: the verdict, "Choice:" and a letter of up to two tokens, with slack.
FAST_ANSWER_ROOM = 16


class ContextError(ValueError):
    pass


def token_counter(tokenizer) -> TokenCounter:
    """The one token counter: this tokenizer's tokens, no special tokens (the template adds those)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False).input_ids)


def model_context(model: str | None) -> int | None:
    """The positions a model folder (or an adapter's base folder) can attend to; None when it cannot be read
    (a Hub id or an endpoint: the caller then needs ``--context`` or a saved budget)."""
    if not model:
        return None
    folder = Path(model)
    cfg = folder / "config.json"
    adapter = folder / "adapter_config.json"
    if not cfg.is_file() and adapter.is_file():
        try:
            base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except (OSError, json.JSONDecodeError):
            return None
        from train.backends import resolve_base

        cfg = Path(resolve_base(base, folder) if base else "") / "config.json"
    if not cfg.is_file():
        return None
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    data = data.get("text_config", data)  # multimodal configs nest the language model's
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(data.get(key), int) and data[key] > 0:
            return data[key]
    return None


def template_overhead(tokenizer, style: str, paper: bool = False) -> int:
    """Tokens of the chat prompt around the log: system policy, role markers, generation prompt (and for the paper
    protocol its definitions and choices, which wrap the log inside the user message)."""
    from train.scoring import encode, render_chat

    if paper:
        empty = Trajectory.model_validate({"messages": [{"role": "user", "content": ""}]})
        messages = build_paper_prompt(empty)
    else:
        messages = [{"role": "system", "content": system_policy(style)}, {"role": "user", "content": ""}]
    return len(encode(tokenizer, render_chat(tokenizer, messages)))


def log_budget(
    tokenizer, fmt: PromptFormat, context: int | None, answer_room: int, paper: bool = False
) -> int | None:
    """Tokens the log may take: the context's room, or the format's bound if smaller."""
    if context is None:
        return fmt.budget_tokens
    room = context - template_overhead(tokenizer, fmt.style, paper) - answer_room - MARGIN
    if room < 32:
        raise ContextError(
            f"a context of {context} tokens leaves no room for a log after the {fmt.style} policy and a "
            f"{answer_room}-token answer"
        )
    return min(room, fmt.budget_tokens) if fmt.budget_tokens else room


@dataclass
class Prompter:
    """Renders trajectories for one model: its format, its tokenizer's counts, the room its context leaves."""

    fmt: PromptFormat
    budget: int | None
    count_tokens: TokenCounter = approx_tokens
    paper: bool = False

    @classmethod
    def for_model(
        cls,
        tokenizer,
        fmt: PromptFormat,
        context: int | None,
        answer_room: int,
        paper: bool = False,
    ) -> Prompter:
        if tokenizer is None:  # an endpoint without a local tokenizer: the format's bound, estimated counts
            return cls(fmt, fmt.budget_tokens, approx_tokens, paper)
        return cls(
            fmt, log_budget(tokenizer, fmt, context, answer_room, paper), token_counter(tokenizer), paper
        )

    def messages(self, traj: Trajectory) -> list[dict[str, str]]:
        if self.paper:
            return build_paper_prompt(traj, self.budget, self.count_tokens)
        return self.fmt.messages(traj, self.count_tokens, self.budget)


def prompt_stats(prompts: Sequence[list[dict[str, str]]], lengths: Sequence[int]) -> dict:
    """What a number measured on these prompts stands on: the share cut to fit, and tokens per item."""
    ordered = sorted(lengths)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0
    return {
        "truncated_share": round(
            sum(is_truncated(p[-1]["content"]) for p in prompts) / max(len(prompts), 1), 4
        ),
        "prompt_tokens": {
            "median": int(statistics.median(ordered)) if ordered else 0,
            "p90": p90,
            "max": ordered[-1] if ordered else 0,
        },
    }
