"""Where answers come from: local transformers (batched greedy generation and the fast path), vLLM, or an
OpenAI-compatible chat endpoint. Every backend takes chat prompts and returns raw answer text plus P(unsafe)
when the backend can read it from the first answer token; parsing and scoring happen elsewhere, the same way
for all of them. Backends load from a ``ModelFolder`` (``mcip/folder.py``), read once by the caller; torch and
transformers are imported only when a local model loads.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tqdm.auto import tqdm

from mcip.endpoint import ChatEndpoint, EndpointError
from mcip.folder import ModelError, ModelFolder
from mcip.scoring import (
    AnswerTokens,
    answer_tokens,
    batches,
    encode,
    end_of_turn_id,
    fast_scores,
    left_pad,
    p_unsafe_from_logits,
    render_chat,
)

Messages = list[dict[str, str]]
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True)
class Generation:
    text: str
    p_unsafe: float | None = None


@runtime_checkable
class Backend(Protocol):
    """What evaluation and the guard need from any backend: chat prompts in, answers out."""

    name: str
    tokenizer: (
        Any  # a local tokenizer (counts tokens for the log's room), or None for an endpoint without one
    )

    def generate(
        self, prompts: Sequence[Messages], max_new_tokens: int, want_p: bool
    ) -> list[Generation]: ...


@runtime_checkable
class ScoringBackend(Backend, Protocol):
    """A backend with the model's logits at hand: one teacher-forced forward pass per prompt (fast mode)."""

    def fast(self, prompts: Sequence[Messages], with_probs: bool = False) -> list[tuple]: ...

    def warm_up(self, prompt: Messages) -> None: ...


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_tokenizer(folder: ModelFolder, inference: bool = True):
    """The tokenizer of a model folder (for an adapter: its own, else its base's); it must have a chat template.
    ``inference`` pads on the left for batched scoring; export keeps it as trained."""
    from transformers import AutoTokenizer

    source = folder.name
    if folder.is_dir and not any((Path(source) / f).is_file() for f in _TOKENIZER_FILES):
        if folder.base is None:
            raise ModelError(f"{source}: no tokenizer files ({', '.join(_TOKENIZER_FILES)})")
        source = folder.base
    try:
        tok = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot load the tokenizer of {source!r}: {_first_line(err)}") from None
    if not tok.chat_template:
        raise ModelError(f"{source}: the tokenizer has no chat template; the guardian prompt needs one")
    if not inference:
        return tok
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def inference_dtype(name: str = "auto", cuda: bool | None = None):
    """The torch dtype to load a model in for evaluation, export checks and the runtime guard.

    ``auto``: bf16 on a CUDA card that supports it; float32 on CPU, so scores are the same on every CPU (bf16
    autocast is a training-speed knob, and a guardian's P(unsafe) should not depend on the machine that reads it).
    """
    import torch

    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name != "auto":
        if name not in table:
            raise ModelError(f"dtype {name!r}: expected auto, {', '.join(table)}")
        return table[name]
    if cuda is None:
        cuda = torch.cuda.is_available()
    return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32


def load_model(folder: ModelFolder, tok):
    """A full or merged model folder, a LoRA adapter folder (merged into its base for speed) or a Hub id."""
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    dtype = inference_dtype("auto", cuda)  # float32 on every CPU: scores do not depend on the CPU model
    try:
        net = AutoModelForCausalLM.from_pretrained(folder.base or folder.name, dtype=dtype)
        if folder.base is not None:
            from peft import PeftModel

            if len(tok) > net.get_input_embeddings().weight.shape[0]:
                net.resize_token_embeddings(len(tok))
            net = PeftModel.from_pretrained(net, folder.name).merge_and_unload()
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot load model {folder.name!r}: {_first_line(err)}") from None
    return net.to("cuda" if cuda else "cpu").eval()


def _progress(desc: str, show: bool = True) -> Callable:
    return (lambda items: tqdm(items, desc=desc, unit="batch")) if show else list


def two_way_p(lp_unsafe: float | None, lp_safe: float | None) -> float | None:
    """P(unsafe) from the two verdict log-probs; a token missing from a top-k list counts as probability 0."""
    if lp_unsafe is None and lp_safe is None:
        return None
    u = math.exp(lp_unsafe) if lp_unsafe is not None else 0.0
    s = math.exp(lp_safe) if lp_safe is not None else 0.0
    return u / (u + s) if u + s > 0 else None


class TransformersBackend:
    """Batched, left-padded greedy decoding that stops at the template's end-of-turn token (inference_dtype)."""

    name = "transformers"

    def __init__(self, folder: ModelFolder, batch_size: int, progress: bool = True):
        self.tokenizer = load_tokenizer(folder)
        self.model = load_model(folder, self.tokenizer)
        self.batch_size = batch_size
        self.progress = progress  # tqdm bars for evaluation's long runs; none for the guard's single reviews
        self.stop_ids = sorted({end_of_turn_id(self.tokenizer), self.tokenizer.eos_token_id} - {None})
        self._tokens: AnswerTokens | None = None

    @property
    def tokens(self) -> AnswerTokens:
        if self._tokens is None:
            self._tokens = answer_tokens(self.tokenizer)
        return self._tokens

    def warm_up(self, prompt: Messages) -> None:
        """One untimed forward pass, so first-call setup (kernels, allocator) is not billed to the first mode."""
        import torch

        ids = torch.tensor(self._ids([prompt]), device=next(self.model.parameters()).device)
        with torch.inference_mode():
            self.model(input_ids=ids, logits_to_keep=1)

    def _ids(self, prompts: Sequence[Messages]) -> list[list[int]]:
        return [encode(self.tokenizer, render_chat(self.tokenizer, m)) for m in prompts]

    def fast(self, prompts: Sequence[Messages], with_probs: bool = False) -> list[tuple]:
        """(P(unsafe), label) per prompt, plus per-class probabilities with ``with_probs`` (``fast_scores``)."""
        return fast_scores(
            self.model,
            self._ids(prompts),
            self.tokens,
            self.tokenizer.pad_token_id,
            self.batch_size,
            _progress("fast", self.progress),
            with_probs,
        )

    def generate(self, prompts: Sequence[Messages], max_new_tokens: int, want_p: bool) -> list[Generation]:
        import torch
        from transformers import GenerationConfig

        ids = self._ids(prompts)
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True,
            output_logits=want_p,  # raw first-step logits: no repetition penalty or other processor applied
        )
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: list[Generation] = [Generation("")] * len(ids)
        device = next(self.model.parameters()).device
        for idx in _progress("generate", self.progress)(list(batches(order, self.batch_size))):
            batch, mask, _ = left_pad([ids[i] for i in idx], self.tokenizer.pad_token_id, device)
            with torch.inference_mode():
                res = self.model.generate(input_ids=batch, attention_mask=mask, generation_config=config)
            new = res.sequences[:, batch.shape[1] :].tolist()
            p = p_unsafe_from_logits(res.logits[0], self.tokens).tolist() if want_p else [None] * len(idx)
            for row, i in enumerate(idx):
                toks = new[row]
                end = next((k for k, t in enumerate(toks) if t in self.stop_ids), len(toks))
                text = self.tokenizer.decode(toks[:end], skip_special_tokens=True)
                out[i] = Generation(text, p[row])
        return out


class VLLMBackend:
    """vLLM offline inference (GPU machines); the chat template is applied with the model's own tokenizer."""

    name = "vllm"

    def __init__(self, folder: ModelFolder, seed: int):
        try:
            from vllm import LLM
        except ImportError:
            raise ModelError("--backend vllm needs the vllm package (pip install -e '.[vllm]')") from None
        if folder.base is not None:
            raise ModelError(
                f"{folder.name}: --backend vllm takes a full or merged model; merge the adapter first"
            )
        self.tokenizer = load_tokenizer(folder)
        self.stop_ids = sorted({end_of_turn_id(self.tokenizer), self.tokenizer.eos_token_id} - {None})
        self.llm = LLM(model=folder.name, seed=seed)

    def generate(self, prompts: Sequence[Messages], max_new_tokens: int, want_p: bool) -> list[Generation]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=0,
            max_tokens=max_new_tokens,
            stop_token_ids=self.stop_ids,
            logprobs=20 if want_p else None,
        )
        token_prompts = [
            {"prompt_token_ids": encode(self.tokenizer, render_chat(self.tokenizer, m))} for m in prompts
        ]
        tokens = answer_tokens(self.tokenizer) if want_p else None
        out = []
        for res in self.llm.generate(token_prompts, params):
            first = res.outputs[0]
            p = None
            if tokens is not None and first.logprobs:
                top = first.logprobs[0]
                lp = {i: top[i].logprob for i in (tokens.unsafe_id, tokens.safe_id) if i in top}
                p = two_way_p(lp.get(tokens.unsafe_id), lp.get(tokens.safe_id))
            out.append(Generation(first.text, p))
        return out


def _verdict_mass(top_logprobs: list[dict]) -> float | None:
    """P(unsafe) from an endpoint's first-token top log-probs, matching token text (no tokenizer here)."""
    lp_unsafe: list[float] = []
    lp_safe: list[float] = []
    for entry in top_logprobs:
        text = str(entry.get("token", "")).strip().lower()
        if not text:
            continue
        if "safe".startswith(text):
            lp_safe.append(entry["logprob"])
        elif "unsafe".startswith(text):
            lp_unsafe.append(entry["logprob"])

    def merged(lps: list[float]) -> float | None:
        return math.log(sum(math.exp(x) for x in lps)) if lps else None

    return two_way_p(merged(lp_unsafe), merged(lp_safe))


class OpenAIBackend:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint over stdlib urllib: concurrency, retries, back-off.

    The API key is read from the environment variable named by ``--api-key-env`` and only ever sent in the
    Authorization header.
    """

    name = "openai"

    def __init__(
        self,
        api_base: str,
        api_model: str,
        api_key_env: str | None,
        concurrency: int,
        retries: int,
        backoff: float,
        timeout: float,
        tokenizer=None,
    ):
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ModelError(f"environment variable {api_key_env} (named by --api-key-env) is not set")
        self.endpoint = ChatEndpoint.from_base(
            api_base, api_key=key, retries=retries, backoff=backoff, timeout=timeout
        )
        self.url, self.model, self.concurrency = self.endpoint.url, api_model, concurrency
        self.tokenizer = tokenizer  # optional: only counts tokens for prompt budgets

    def _one(self, messages: Messages, max_new_tokens: int, want_p: bool) -> Generation:
        payload = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": max_new_tokens}
        if want_p:
            payload |= {"logprobs": True, "top_logprobs": 20}
        try:
            choice = self.endpoint.complete(payload)["choices"][0]
        except EndpointError as err:
            raise ModelError(str(err)) from None
        text = (choice["message"] or {}).get("content") or ""
        p = None
        content = ((choice.get("logprobs") or {}).get("content")) or []
        if want_p and content:
            p = _verdict_mass(content[0].get("top_logprobs") or [])
        return Generation(text, p)

    def generate(self, prompts: Sequence[Messages], max_new_tokens: int, want_p: bool) -> list[Generation]:
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._one, m, max_new_tokens, want_p) for m in prompts]
            try:
                for fut in tqdm(
                    concurrent.futures.as_completed(futures), total=len(futures), desc="api", unit="item"
                ):
                    fut.result()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        return [f.result() for f in futures]
