"""One loaded guardian: a model folder, a Hub id or an endpoint turned, once, into what scores a log.

Evaluation, the runtime guard and the benchmarks load through ``load_guardian``, so each reads the folder once
(``ModelFolder``), renders with the same ``Prompter`` (the saved format, the room the context leaves after the
answer's room) and scores the same way: one teacher-forced pass with per-class probabilities on a local model
(``mcip.scoring.fast_scores``); greedy answers of at most the answer's room, parsed by
``mcip.verdict.parse_verdict``, from an endpoint or vLLM. An endpoint guardian never imports torch.

A growing session is judged with ``check``: a local model keeps the session's key/value cache between checks
(``mcip.incremental``) and runs only the new tokens. A guardian trained on the stream format (``fmt.stream``)
reads a session as an append-only chat with its own earlier verdicts in it (``session_prompt``), so each check
costs about one turn; ``judge_positions`` judges every call and answer of a finished log in one such pass.

Where the folder carries an operating point (``mcip.calibration``, fitted by ``train.calibrate``), every local
verdict is read through it here, so evaluation and the guard decide alike; ``calibrate=False`` reads the raw model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mcip.backends import (
    Backend,
    OpenAIBackend,
    ScoringBackend,
    TransformersBackend,
    VLLMBackend,
    load_tokenizer,
)
from mcip.calibration import Calibration
from mcip.calls import first_unsafe, positions, upto_position
from mcip.folder import ModelError, ModelFolder
from mcip.incremental import PrefixCache
from mcip.prompting import ANSWER_ROOM, MARGIN, PAPER_ANSWER_ROOM, Prompter
from mcip.record import Trajectory
from mcip.scoring import encode, render_chat
from mcip.stream import STREAM_WINDOW, chats
from mcip.taxonomy import SAFE
from mcip.verdict import parse_verdict

Messages = list[dict[str, str]]
BackendName = Literal["transformers", "vllm", "openai"]


@dataclass(frozen=True)
class Score:
    """One verdict: P(unsafe) and the label; ``probs`` maps every label to P (local models), ``rationale`` is the
    answer's Rationale line (generated answers)."""

    p_unsafe: float | None
    label: str
    probs: dict[str, float] | None = None
    rationale: str | None = None


# a log without a call or an answer: the agent did nothing a guardian judges (a stream guardian reads calls only)
NOTHING_TO_JUDGE = Score(0.0, SAFE, None, "no call and no answer to judge")


def log_verdict(scores: Sequence[Score]) -> Score:
    """A log's verdict from its calls' verdicts in order: the first unsafe call's class (``first_unsafe``, the
    paper's record label) with its per-class probabilities, and the highest P(unsafe) of any call."""
    highest = max(scores, key=lambda s: s.p_unsafe or 0.0)
    first = next((s for s in scores if s.label != SAFE), highest)
    return Score(highest.p_unsafe, first_unsafe(s.label for s in scores), first.probs, first.rationale)


@dataclass(frozen=True)
class LoadedGuardian:
    """A guardian ready to score: its source folder, its backend (model or endpoint client, with the tokenizer
    where one is at hand), the context it attends to, the answer's room and the prompter both decide."""

    name: str
    folder: ModelFolder
    backend: Backend
    context: int | None
    answer_room: int
    prompter: Prompter
    cache: PrefixCache | None = None  # per-session key/value caches (a local model only)
    window: int | None = STREAM_WINDOW  # tokens one stream chat may take (None: the context)
    calibration: Calibration | None = None  # applied to every verdict that has per-class probabilities

    @property
    def tokenizer(self):
        return self.backend.tokenizer

    @property
    def fmt(self):
        return self.prompter.fmt

    def prompt(self, traj: Trajectory) -> Messages:
        return self.prompter.messages(traj)

    @property
    def stream_room(self) -> int | None:
        """Tokens one stream chat may take: the window (or the context, if smaller) less the answer's room."""
        bound = min((n for n in (self.context, self.window) if n), default=None)
        return None if bound is None else bound - self.answer_room - MARGIN

    def session_prompt(self, traj: Trajectory, verdicts: list[str]) -> Messages:
        """What the guardian reads to judge position ``len(verdicts)`` of ``traj`` (``mcip.calls.positions``),
        given its verdicts on the positions before: the current chat of the stream (``mcip.stream.chats``) for a
        stream-format guardian; for a one-shot one, the log up to that position, rendered as always."""
        if self.fmt.stream:
            return chats(traj, [*verdicts, None], self.fmt, self.stream_room, self.prompter.count_tokens)[-1]
        return self.prompt(upto_position(traj, len(verdicts)))

    def check(self, key: str, prompt: Messages) -> Score:
        """One verdict on a growing session ``key``: only the tokens new since its last check run where a local
        model keeps the cache; otherwise a plain ``score``."""
        if self.cache is None:
            return self.score([prompt])[0]
        ids = encode(self.tokenizer, render_chat(self.tokenizer, prompt))
        c = self.cache.check(key, ids)
        return self._local(c.p_unsafe, c.label, c.probs)

    def _local(self, p: float, label: str, probs: dict[str, float] | None) -> Score:
        """A local model's verdict, through the folder's operating point where it has one."""
        if self.calibration is None or probs is None:
            return Score(p, label, probs)
        return Score(*self.calibration.apply(probs))

    def judge_positions(self, traj: Trajectory, key: str | None = None) -> list[Score]:
        """A verdict at every call and answer of a finished log, in order, each given the guardian's own earlier
        verdicts (as the guard would have): one incremental pass over the session."""
        key = key or f"judge:{traj.id}:{id(traj)}"
        out: list[Score] = []
        try:
            for _ in positions(traj):
                out.append(self.check(key, self.session_prompt(traj, [s.label for s in out])))
        finally:
            if self.cache is not None:
                self.cache.drop(key)
        return out

    def judge_logs(self, trajs: Sequence[Trajectory]) -> list[Score]:
        """One verdict per finished log, read as the guardian was trained to read one: a one-shot guardian scores
        the whole log's prompt; a stream guardian judges every call (``judge_positions``) and the log's verdict is
        ``log_verdict`` of them (it never saw a whole log in one prompt)."""
        if self.fmt.stream:
            return [log_verdict(self.judge_positions(t)) if positions(t) else NOTHING_TO_JUDGE for t in trajs]
        return self.score([self.prompt(t) for t in trajs])

    def prompt_tokens(self, prompt: Messages) -> int:
        """The prompt's length in the model's tokens (estimated where an endpoint has no local tokenizer)."""
        tok = self.tokenizer
        if tok is None:
            return sum(self.prompter.count_tokens(m["content"]) for m in prompt)
        return len(encode(tok, render_chat(tok, prompt)))

    def score(self, prompts: Sequence[Messages]) -> list[Score]:
        """A verdict per prompt: fast scoring where the model's logits are at hand, else parsed answers of at most
        ``answer_room`` tokens (an unparsable answer is a ModelError: no verdict, the caller decides)."""
        if isinstance(self.backend, ScoringBackend):
            return [self._local(*one) for one in self.backend.fast(prompts, with_probs=True)]
        out = []
        for gen in self.backend.generate(prompts, self.answer_room, want_p=True):
            v = parse_verdict(gen.text)
            if not v.ok:
                raise ModelError(f"unparsable answer ({v.error}): {gen.text[:120]!r}")
            label = v.label or (SAFE if not v.unsafe else "unsafe")
            p = gen.p_unsafe if gen.p_unsafe is not None else float(bool(v.unsafe))
            out.append(Score(p, label, None, v.rationale))
        return out


def load_guardian(
    model: str | None = None,
    *,
    backend: BackendName | None = None,
    api_base: str | None = None,
    api_model: str | None = None,
    api_key_env: str | None = None,
    batch_size: int = 8,
    concurrency: int = 4,
    retries: int = 2,
    backoff: float = 0.5,
    timeout: float = 30.0,
    seed: int = 42,
    context: int | None = None,
    log_budget: int | None = None,
    paper: bool = False,
    answer_room: int | None = None,
    progress: bool = True,
    cache_mib: float = 1024.0,
    window: int | None = STREAM_WINDOW,
    calibrate: bool = True,
) -> LoadedGuardian:
    """Load ``model`` (a folder or Hub id) on ``backend`` (default: transformers, or openai given ``api_base``).

    ``context`` overrides the model's own; ``log_budget`` caps the log below what its format and context allow;
    ``answer_room`` (default ``ANSWER_ROOM``, ``PAPER_ANSWER_ROOM`` for the paper protocol) is both the room left
    for the answer and the most tokens one is generated to. ``cache_mib`` bounds the key/value caches a local
    model keeps for growing sessions, all sessions together; ``window`` the tokens one stream chat may take before
    a growing session re-cuts into a new one (``STREAM_WINDOW``; None: the context). ``calibrate`` applies the
    folder's ``mcip_calibration.json`` to local verdicts (False: the raw model). Raises ModelError.
    """
    folder = ModelFolder.read(model)
    kind = backend or ("openai" if api_base else "transformers")
    if kind == "openai":
        if not api_base:
            raise ModelError("an endpoint guardian needs an api_base")
        tok = load_tokenizer(folder) if folder.is_dir else None  # only counts tokens for the log's room
        b: Backend = OpenAIBackend(
            api_base, api_model or model, api_key_env, concurrency, retries, backoff, timeout, tok
        )
    elif not model:
        raise ModelError(f"a {kind} guardian needs a model folder, adapter or Hub id")
    elif kind == "vllm":
        b = VLLMBackend(folder, seed)
    else:
        b = TransformersBackend(folder, batch_size, progress)
    fmt = folder.fmt
    if log_budget:
        fmt = dataclasses.replace(fmt, log_budget=min(log_budget, fmt.log_budget or log_budget))
    room = answer_room or (PAPER_ANSWER_ROOM if paper else ANSWER_ROOM)
    context = context or folder.context
    prompter = Prompter.for_model(b.tokenizer, fmt, context, room, paper)
    cache = None
    if isinstance(b, TransformersBackend) and not paper:
        cache = PrefixCache(b.model, b.tokens, context or 1 << 30, cache_mib)
    if window is not None and window <= room + MARGIN:
        raise ModelError(
            f"window {window}: a stream chat needs more than the answer's room ({room + MARGIN} tokens)"
        )
    calibration = folder.calibration if calibrate and isinstance(b, ScoringBackend) else None
    return LoadedGuardian(
        model or api_model or api_base, folder, b, context, room, prompter, cache, window, calibration
    )
