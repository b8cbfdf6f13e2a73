"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (streamed or not).

Each reply is ``{"content": str}`` or ``{"tool_calls": [(name, args), ...]}``; every
request is recorded (path and JSON body) for the test to assert on.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _message(reply: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if reply.get("tool_calls"):
        message["tool_calls"] = [
            {"id": f"call_{n}_{time.monotonic_ns()}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for n, (name, args) in enumerate(reply["tool_calls"])]
    return message


class Stub:
    """Serve the scripted replies in order to POST /v1/chat/completions."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": "stub-model", "object": "model"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append({"path": self.path, "body": request})
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b"")
                    return
                reply = stub.replies.pop(0) if stub.replies else {"content": "done."}
                message = _message(reply)
                finish = "tool_calls" if reply.get("tool_calls") else "stop"
                head = {"id": "chatcmpl-stub", "created": int(time.time()), "model": "stub-model"}
                if not request.get("stream"):
                    self._send(200, json.dumps({**head, "object": "chat.completion", "choices": [
                        {"index": 0, "message": message, "finish_reason": finish}],
                        "usage": _USAGE}).encode())
                    return
                delta = {k: v for k, v in message.items() if v is not None}
                if "tool_calls" in delta:
                    delta["tool_calls"] = [dict(call, index=n)
                                           for n, call in enumerate(delta["tool_calls"])]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in ({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                              {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                               "usage": _USAGE}):
                    chunk = {**head, "object": "chat.completion.chunk", **chunk}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
