"""Optional LLM rewriting of user requests and final answers, for more natural language (off by default).

It runs on benign logs *before* any transform, and a rewrite is kept only if it still contains, verbatim, every
value of the original text that the log's calls or results hold (ids, amounts, paths, names...). So labels never
depend on it: the transforms see a log whose user words and answer still match its calls, whatever the LLM wrote.

Requests go to an OpenAI-compatible ``/chat/completions`` endpoint (a local vLLM or llama.cpp server, or an API),
or, without ``api_base``, to a local transformers model at ``model``; answers are cached on disk by a hash of
(model, prompt), so a rebuild with the same recipe asks nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from data_gen.edit import final_answer_index, mentions, scalar_values, set_content
from mcip.endpoint import ChatEndpoint, EndpointError
from mcip.io import atomic_write
from mcip.record import Trajectory

INSTRUCTIONS = {
    "user": "Rewrite this request to an AI assistant so it sounds natural and varied, like a real person typed it. "
    "Keep every name, number, id, path, address and quoted text exactly as written. Reply with the request only.",
    "answer": "Rewrite this reply from an AI assistant so it reads naturally. Keep every name, number, id, path and "
    "quoted text exactly as written, and add no new facts. Reply with the rewritten text only.",
}


class RewriteError(RuntimeError):
    pass


class Rewriter:
    def __init__(
        self,
        api_base: str | None,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        cache_dir: str | os.PathLike = "data/.rewrite-cache",
        retries: int = 3,
        timeout: float = 60.0,
    ):
        key = os.environ.get(api_key_env)
        self.endpoint = (
            ChatEndpoint.from_base(api_base, api_key=key, retries=retries, timeout=timeout)
            if api_base
            else None
        )
        self.url = self.endpoint.url if self.endpoint else None
        self._local = None  # (tokenizer, model) when no endpoint is given
        self.model = model
        self.cache = Path(cache_dir)
        self.stats = {"requests": 0, "cached": 0, "kept": 0, "rejected": 0}

    def _ask(self, kind: str, text: str) -> str:
        payload = {
            "model": self.model,
            "temperature": 0.7,
            "max_tokens": 300,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS[kind]},
                {"role": "user", "content": text},
            ],
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        path = self.cache / key[:2] / f"{key}.json"
        if path.is_file():
            self.stats["cached"] += 1
            return json.loads(path.read_text())["text"]
        text = self._post(payload) if self.url else self._generate(payload["messages"])
        with atomic_write(path) as fh:
            json.dump({"text": text}, fh)
        return text

    def _generate(self, messages: list[dict[str, str]]) -> str:
        """A local transformers model (sampling, like the endpoint's temperature 0.7)."""
        if self._local is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._local = (
                AutoTokenizer.from_pretrained(self.model),
                AutoModelForCausalLM.from_pretrained(self.model),
            )
        tok, model = self._local
        self.stats["requests"] += 1
        ids = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(**ids, max_new_tokens=300, do_sample=True, temperature=0.7)
        return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip()

    def _post(self, payload: dict) -> str:
        self.stats["requests"] += 1
        try:
            answer = self.endpoint.complete(payload)
        except EndpointError as err:
            raise RewriteError(f"rewrite {err}") from None
        return (answer["choices"][0]["message"].get("content") or "").strip()

    def _accept(self, original: str, rewritten: str, values: list[Any]) -> bool:
        """Keep a rewrite only if every value the original text shows is still there, verbatim."""
        needed = [v for v in values if mentions(original, v)]
        ok = (
            bool(rewritten.strip())
            and all(mentions(rewritten, v) for v in needed)
            and len(rewritten) < 4 * len(original) + 200
        )
        self.stats["kept" if ok else "rejected"] += 1
        return ok

    def rewrite(self, traj: Trajectory) -> Trajectory:
        values = [v for _, c in traj.calls() for v in scalar_values(c.function.args)]
        values += [v for m in traj.messages if m.role == "tool" for v in scalar_values(_decode(m.content))]
        first = next(i for i, m in enumerate(traj.messages) if m.role == "user")
        out = traj
        targets = [(first, "user")]
        if (fa := final_answer_index(traj)) is not None:
            targets.append((fa, "answer"))
        for index, kind in targets:
            original = out.messages[index].content or ""
            new = self._ask(kind, original)
            if self._accept(original, new, values):
                out = set_content(out, index, new)
        return out.model_copy(update={"meta": {**out.meta, "rewritten": True}})


def _decode(content: str | None) -> Any:
    try:
        return json.loads(content or "")
    except json.JSONDecodeError:
        return content
