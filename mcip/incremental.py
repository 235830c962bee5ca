"""Judge a growing session paying only for its new tokens: one key/value cache per session (issue 22).

A guard asks the guardian about every proposed call of a session. When the prompt for call k+1 starts with the
prompt for call k (the append-only stream rendering, ``mcip.stream``), the keys and values of that shared part are
already computed; re-reading them costs O(session) per call and O(n x session) per session. ``PrefixCache`` keeps,
per session, the token ids whose keys and values it holds (a transformers ``DynamicCache``). A check:

1. takes the longest common token prefix of the new teacher-forced prompt and the cached ids (any format
   benefits: a one-shot prompt shares its policy, tool list and the log up to where it changed);
2. crops the cache to it and runs only the rest, with ``logits_to_keep`` the verdict and letter positions;
3. reads the verdict exactly as ``mcip.scoring.fast_scores`` does (``read_verdicts``), so an incremental verdict
   equals a full re-read (tested).

Memory is bounded: each session's cache at most ``max_session_tokens`` (a longer prompt is scored without being
kept), all sessions together at most ``max_total_mib``, least recently used evicted first. An evicted session is
re-encoded in full at its next check (counted in ``stats``). torch is imported only when a check runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcip.scoring import AnswerTokens, common_prefix, letter_heads, read_verdicts


@dataclass
class _Entry:
    ids: list[int]
    cache: Any  # transformers.DynamicCache holding the keys and values of ``ids``


@dataclass
class CacheStats:
    checks: int = 0
    reused_tokens: int = 0  # tokens whose keys and values came from the cache
    computed_tokens: int = 0  # tokens run through the model
    evictions: int = 0  # sessions dropped to stay within the total bound
    not_kept: int = 0  # checks whose prompt was longer than one session may keep

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Check:
    """One verdict and what it cost: tokens taken from the cache and tokens computed."""

    p_unsafe: float
    label: str
    probs: dict[str, float] | None
    reused: int
    computed: int


def kv_bytes_per_token(config) -> int:
    """Bytes of keys and values one token takes in every layer, from the model's config (float32 here)."""
    layers = config.num_hidden_layers
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    dtype = getattr(config, "dtype", None)
    width = 2 if str(dtype).endswith(("bfloat16", "float16")) else 4
    return 2 * layers * heads * head_dim * width


@dataclass
class PrefixCache:
    """Per-session key/value caches for one model, bounded per session and in total (see the module doc)."""

    model: Any
    tokens: AnswerTokens
    max_session_tokens: int
    max_total_mib: float = 1024.0
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self):
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._heads = letter_heads(self.tokens)
        self._lock = threading.Lock()
        self._per_token = kv_bytes_per_token(self.model.config)

    @property
    def cached_tokens(self) -> int:
        return sum(len(e.ids) for e in self._entries.values())

    @property
    def cached_mib(self) -> float:
        return self.cached_tokens * self._per_token / 2**20

    def sessions(self) -> list[str]:
        return list(self._entries)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def check(self, key: str, prompt_ids: Sequence[int], with_probs: bool = True) -> Check:
        """The verdict on ``prompt_ids`` (a rendered guardian prompt), reusing session ``key``'s cache."""
        import torch
        from transformers import DynamicCache

        full = self.tokens.teacher_forced(prompt_ids)
        keep = len(self.tokens.choice_prefix) + 1
        with self._lock, torch.inference_mode():
            entry = self._entries.pop(key, None)
            shared = 0
            if entry is not None:
                shared = common_prefix([entry.ids, full])
                shared = min(shared, len(full) - keep)  # the verdict positions are always computed
                entry.cache.crop(shared - len(entry.ids))
            cache = entry.cache if entry is not None else DynamicCache(config=self.model.config)
            device = next(self.model.parameters()).device
            new = torch.tensor([full[shared:]], device=device)
            res = self.model(input_ids=new, past_key_values=cache, use_cache=True, logits_to_keep=keep)
            ids = list(full)

            def second_step(head):
                ids.append(int(head[0]))
                return self.model(
                    input_ids=head[:, None], past_key_values=cache, use_cache=True, logits_to_keep=1
                ).logits[:, -1]

            verdict = read_verdicts(res.logits, self.tokens, self._heads, second_step, with_probs)[0]
            self.stats.checks += 1
            self.stats.reused_tokens += shared
            self.stats.computed_tokens += len(full) - shared
            if len(ids) <= self.max_session_tokens:
                self._entries[key] = _Entry(ids, cache)
                self._evict()
            else:
                self.stats.not_kept += 1
        probs = verdict[2] if with_probs else None
        return Check(verdict[0], verdict[1], probs, shared, len(full) - shared)

    def _evict(self) -> None:
        budget = self.max_total_mib * 2**20
        while self._entries and self.cached_tokens * self._per_token > budget:
            self._entries.popitem(last=False)  # least recently used first
            self.stats.evictions += 1
