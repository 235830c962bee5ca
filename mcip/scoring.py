"""Token-level helpers for the guardian answer: chat rendering, the end-of-turn token, and first-token scoring.

The guardian answer starts with the verdict (``safe``/``unsafe``) and then ``Choice: <letter>. <name>``, so one
teacher-forced forward pass over ``prompt + "unsafe\\nChoice:"`` reads both P(unsafe) (at the verdict position)
and the choice letter (at the last position). Where each answer token sits is found by tokenizing the real
answers (``mcip.prompt.format_answer``) right after a rendered generation prompt, never by guessing strings: a
BPE tokenizer merges the space into the letter (``"Choice:" + " E"``), and some templates (Llama 3's ``"\\n\\n"``)
tokenize their last characters differently once an answer follows. Training, evaluation and the guard share
these helpers; torch is imported only by the functions that run a model, so an endpoint guardian never loads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcip.prompt import format_answer
from mcip.taxonomy import LABELS, RISK_LABELS, SAFE

if TYPE_CHECKING:
    import torch

# A reference conversation: every prompt ends with the same generation-prompt suffix after its last user turn.
_REFERENCE = [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}]


class ScoringError(ValueError):
    """The tokenizer or chat template does not allow first-token scoring."""


def render_chat(tokenizer, messages: list[dict[str, str]]) -> str:
    """The prompt text with the generation prompt; it already holds any BOS the template adds."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of rendered chat text: no extra special tokens (the template put them in)."""
    return tokenizer(text, add_special_tokens=False).input_ids


class TemplateError(ValueError):
    """The tokenizer's chat template cannot serve a guardian (no template, or no end-of-turn token)."""


def end_of_turn_id(tokenizer) -> int:
    """The special token the chat template closes an assistant turn with (``<|im_end|>``, ``<|eot_id|>``, ...).

    Rendering an assistant message and taking the first special token after it finds it for any template; the
    EOS token is the fallback for templates that close turns with plain text. Generation must stop on it, and
    training must put it under loss, or the model never learns to end its answer.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError(f"tokenizer {tokenizer.name_or_path!r} has no chat template")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "XYZ"}], tokenize=False
    )
    if "XYZ" not in text:
        raise TemplateError(
            "the chat template dropped the assistant message; cannot find its end-of-turn token"
        )
    special = set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)
    }
    tail = tokenizer(text[text.rindex("XYZ") + 3 :], add_special_tokens=False).input_ids
    found = next((i for i in tail if i in special), tokenizer.eos_token_id)
    if found is None:
        raise TemplateError(
            "the chat template closes turns with no special token and the tokenizer has no EOS"
        )
    return found


def end_of_turn_token(tokenizer) -> str:
    return tokenizer.convert_ids_to_tokens(end_of_turn_id(tokenizer))


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``seqs`` share."""
    n = 0
    while all(len(s) > n for s in seqs) and len({s[n] for s in seqs}) == 1:
        n += 1
    return n


@dataclass(frozen=True)
class AnswerTokens:
    """Where the verdict and the choice letter sit in a tokenized guardian answer."""

    safe_id: int  # first token of "safe"
    unsafe_id: int  # first token of "unsafe"
    drop: int  # prompt tokens to drop at the boundary (a template suffix that re-tokenizes once text follows)
    boundary: tuple[int, ...]  # ... and the tokens that replace them
    choice_prefix: tuple[int, ...]  # teacher-forced answer tokens: "unsafe\nChoice:" (starts with unsafe_id)
    # risk label -> its letter's tokens at the choice position (B..K): one token in real vocabularies (" E");
    # two where a small vocabulary splits some letters (" ", "G"), enough to tell every label apart
    letter_paths: dict[str, tuple[int, ...]]

    @property
    def needs_second_step(self) -> bool:
        return any(len(path) > 1 for path in self.letter_paths.values())

    def teacher_forced(self, prompt_ids: Sequence[int]) -> list[int]:
        """Prompt ids followed by the answer up to the choice letter, tokenized as in ``prompt + answer``."""
        kept = list(prompt_ids[: len(prompt_ids) - self.drop])
        return kept + list(self.boundary) + list(self.choice_prefix)


def answer_tokens(tokenizer) -> AnswerTokens:
    """Tokenize all 11 answers after a reference prompt and locate the verdict and letter positions."""
    ref = render_chat(tokenizer, _REFERENCE)
    base = encode(tokenizer, ref)
    seqs = {lb.string: encode(tokenizer, ref + format_answer(lb.string)) for lb in LABELS}
    verdict_pos = common_prefix(list(seqs.values()))
    safe_id, unsafe_id = seqs[SAFE][verdict_pos], seqs[RISK_LABELS[0]][verdict_pos]
    if safe_id == unsafe_id:
        raise ScoringError(
            "'safe' and 'unsafe' start with the same token; fast scoring cannot tell them apart"
        )
    keep = common_prefix([base, seqs[SAFE][:verdict_pos]])
    letter_pos = common_prefix([seqs[lb] for lb in RISK_LABELS])
    heads = Counter(seqs[lb][letter_pos] for lb in RISK_LABELS)
    letters = {
        lb: tuple(seqs[lb][letter_pos : letter_pos + (1 if heads[seqs[lb][letter_pos]] == 1 else 2)])
        for lb in RISK_LABELS
    }
    if letter_pos <= verdict_pos or len(set(letters.values())) != len(RISK_LABELS):
        raise ScoringError("the choice letters B..K cannot be told apart within two tokens of 'Choice:'")
    return AnswerTokens(
        safe_id=safe_id,
        unsafe_id=unsafe_id,
        drop=len(base) - keep,
        boundary=tuple(seqs[SAFE][keep:verdict_pos]),
        choice_prefix=tuple(seqs[RISK_LABELS[0]][verdict_pos:letter_pos]),
        letter_paths=letters,
    )


def left_pad(
    batch: Sequence[Sequence[int]], pad_id: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids), left-padded so every sequence ends at the last column."""
    import torch

    width = max(len(s) for s in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, seq in enumerate(batch):
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def p_unsafe_from_logits(logits: torch.Tensor, tokens: AnswerTokens) -> torch.Tensor:
    """P(unsafe) from next-token logits [batch, vocab]: a softmax over the two verdict tokens only."""
    import torch

    pair = logits[:, [tokens.safe_id, tokens.unsafe_id]].float()
    return torch.softmax(pair, dim=-1)[:, 1]


def batches(order: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield list(order[start : start + size])


def _pick(logits: torch.Tensor, candidates: dict[int, str]) -> str:
    ids = list(candidates)
    return candidates[ids[int(logits[ids].argmax())]]


def letter_heads(tokens: AnswerTokens) -> dict[int, dict[int, str]]:
    """First letter token -> {second token (or -1 where one token suffices) -> label}."""
    heads: dict[int, dict[int, str]] = {}
    for label, path in tokens.letter_paths.items():
        heads.setdefault(path[0], {})[path[1] if len(path) > 1 else -1] = label
    return heads


def read_verdicts(
    logits: torch.Tensor, tokens: AnswerTokens, heads: dict, second_step, with_probs: bool
) -> list:
    """(P(unsafe), label[, per-class P]) per row of teacher-forced logits [rows, len(choice_prefix) + 1, vocab]:
    position 0 predicts the verdict, the last the choice letter. ``second_step(head_ids)`` gives the next-token
    logits after each row's chosen first letter token (called only where a letter spans two tokens)."""
    import torch

    head_ids = torch.tensor(list(heads), device=logits.device)
    p = p_unsafe_from_logits(logits[:, 0], tokens).tolist()
    letter_logits = logits[:, -1].index_select(-1, head_ids)
    head = head_ids[letter_logits.argmax(-1)]
    second = second_step(head) if tokens.needs_second_step else None
    head_p = torch.softmax(letter_logits.float(), dim=-1) if with_probs else None
    out = []
    for row in range(logits.shape[0]):
        group = heads[int(head[row])]
        label = group[-1] if -1 in group else _pick(second[row], group)
        one = (p[row], SAFE if p[row] < 0.5 else label)
        if with_probs:
            one += (_class_probs(p[row], head_p[row], heads, int(head[row]), second, row),)
        out.append(one)
    return out


def fast_scores(
    model,
    prompt_ids: Sequence[Sequence[int]],
    tokens: AnswerTokens,
    pad_id: int,
    batch_size: int,
    progress,
    with_probs: bool = False,
) -> list[tuple[float, str]] | list[tuple[float, str, dict[str, float]]]:
    """(P(unsafe), predicted label) per prompt from one forward pass each; batched, longest first.

    The label is ``true`` when P(unsafe) < 0.5, else the risk whose letter has the highest logit (greedy
    decoding restricted to the letters; a second, cached step only where a letter spans two tokens).
    ``with_probs`` adds per-class probabilities (label -> P, summing to 1): P(true) = 1 - P(unsafe) and each risk
    P(unsafe) * P(its letter | "unsafe\nChoice:"), a softmax over the letters' first tokens (split by the second
    step's softmax where letters share a first token; evenly for groups other than the chosen one, whose
    second step is not computed). The run-time guard reads them; evaluation does not need them.
    """
    import torch

    with torch.inference_mode():
        device = next(model.parameters()).device
        heads = letter_heads(tokens)
        order = sorted(range(len(prompt_ids)), key=lambda i: -len(prompt_ids[i]))
        out: list[tuple[float, str]] = [(0.0, SAFE)] * len(prompt_ids)
        keep = len(tokens.choice_prefix) + 1  # logits for the last prompt token and each teacher-forced token
        for idx in progress(list(batches(order, batch_size))):
            ids, mask, pos = left_pad([tokens.teacher_forced(prompt_ids[i]) for i in idx], pad_id, device)
            res = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                logits_to_keep=keep,
                use_cache=tokens.needs_second_step,
            )

            def second_step(head, res=res, mask=mask, pos=pos):
                return model(
                    input_ids=head[:, None],
                    attention_mask=torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1),
                    position_ids=pos[:, -1:] + 1,
                    past_key_values=res.past_key_values,
                    logits_to_keep=1,
                ).logits[:, -1]

            for i, one in zip(idx, read_verdicts(res.logits, tokens, heads, second_step, with_probs)):
                out[i] = one
        return out


def _class_probs(p_unsafe: float, head_p: torch.Tensor, heads: dict, chosen: int, second, row: int) -> dict:
    """Per-class probabilities for one row of ``fast_scores`` (see its docstring)."""
    import torch

    probs = {SAFE: 1.0 - p_unsafe}
    for k, (first, group) in enumerate(heads.items()):
        if -1 in group:
            probs[group[-1]] = p_unsafe * float(head_p[k])
            continue
        ids = list(group)
        split = (
            torch.softmax(second[row][ids].float(), dim=-1).tolist()
            if first == chosen and second is not None
            else [1.0 / len(ids)] * len(ids)
        )
        for tid, share in zip(ids, split):
            probs[group[tid]] = p_unsafe * float(head_p[k]) * share
    return probs
