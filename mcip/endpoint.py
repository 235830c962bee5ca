"""One client for OpenAI-compatible ``/v1/chat/completions`` endpoints (vLLM, TGI, llama.cpp, hosted APIs).

Evaluation, the optional LLM rewriter and the runtime guard all talk to endpoints through this, so they share one
retry rule: transient statuses (408, 409, 429, 5xx) and connection errors are retried with jittered exponential
back-off; any other status fails at once with the endpoint's own words. The API key is only ever sent in the
Authorization header (never logged, never written).
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class EndpointError(RuntimeError):
    """The endpoint is unreachable, keeps failing, or answered something that is not a chat completion."""


def chat_url(api_base: str) -> str:
    """``http://h:8000``, ``.../v1`` or a full ``.../chat/completions`` URL, as the chat completions URL."""
    base = api_base.rstrip("/")
    return base if base.endswith("/chat/completions") else base.removesuffix("/v1") + "/v1/chat/completions"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@dataclass
class ChatEndpoint:
    url: str
    api_key: str | None = None
    retries: int = 3
    backoff: float = 0.5  # first retry delay in seconds; doubles each retry
    timeout: float = 60.0

    @classmethod
    def from_base(cls, api_base: str, **kwargs) -> ChatEndpoint:
        return cls(chat_url(api_base), **kwargs)

    def complete(self, payload: dict) -> dict:
        """POST one chat completion request; the parsed JSON answer (it has ``choices[0].message``)."""
        body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last, reached = "", False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    data = json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                if err.code not in RETRY_STATUS:
                    detail = err.read().decode("utf-8", "replace")[:200]
                    raise EndpointError(f"{self.url} answered HTTP {err.code}: {detail}") from None
                last, reached = f"HTTP {err.code}", True
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = _first_line(getattr(err, "reason", err) or err)
                continue
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise EndpointError(f"{self.url} answered with invalid JSON") from None
            try:
                data["choices"][0]["message"]
            except (KeyError, IndexError, TypeError):
                raise EndpointError(
                    f"{self.url} answered without choices[0].message: {str(data)[:200]}"
                ) from None
            return data
        state = "still failing" if reached else "unreachable"
        raise EndpointError(f"endpoint {self.url} {state} after {self.retries + 1} attempt(s): {last}")
