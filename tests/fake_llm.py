"""The one fake OpenAI-compatible endpoint of the tests: a real HTTP server on 127.0.0.1 that answers
``POST /v1/chat/completions`` through a function, so each test states its endpoint's behaviour in a few lines."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Respond = Callable[[int, dict], tuple[int, dict]]  # (request number from 1, body) -> (status, payload)


def completion(text: str, logprobs: list[dict] | None = None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"choices": [choice]}


class FakeChat:
    def __init__(self, respond: Respond):
        self.requests: list[tuple[dict, dict]] = []  # (headers, body) of every request, in order
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append((dict(self.headers), body))
                    k = len(fake.requests)
                if self.path != "/v1/chat/completions":
                    status, payload = 404, {"error": "no route"}
                else:
                    status, payload = respond(k, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeChat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
