"""`scoder serve`: a small OpenAI-compatible server over a local backend (HF by default), so that tools
that speak that API (and our own openai backend) can use any model this harness can load, the embedded
default included. One request is generated at a time; for throughput on GPUs use vLLM's own server.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.generation.backend import Decoding
from harness.generation.prompts import Prompt, cut_at_stops

MAX_BODY_BYTES = 16 << 20


def _decoding(body: dict) -> Decoding:
    return Decoding(n=int(body.get("n") or 1), temperature=float(body.get("temperature") or 0.0),
                    top_p=float(body.get("top_p") or 0.95), max_new_tokens=int(body.get("max_tokens") or 256),
                    seed=int(body.get("seed") or 0), batch_size=max(1, int(body.get("n") or 1)))


def _prompt(body: dict, chat: bool) -> Prompt:
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise ValueError("messages must be a list of {role, content}")
        return Prompt("request", messages=tuple(messages), stop=stop)
    text = body.get("prompt")
    if not isinstance(text, str):
        raise ValueError("prompt must be a string")
    return Prompt("request", text=text, stop=stop)


def _finish_reasons(backend, generated: list[str], outputs: list[str], tokens: int, max_tokens: int) -> list[str]:
    """OpenAI's finish_reason per output: "length" when max_tokens cut it, else "stop" (a stop string or the end
    of sequence). The backend counts the tokens of all outputs together; each output's own count is that total
    for one output, else its text's tokens."""
    reasons = []
    for text, kept in zip(generated, outputs):
        if len(kept) < len(text):  # a stop string ended it, wherever the token count stands
            reasons.append("stop")
            continue
        own = tokens if len(generated) == 1 else len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])
        reasons.append("length" if own >= max_tokens else "stop")
    return reasons


def make_server(backend, model_name: str, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: one line per request is noise in test logs
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "scoder"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            route = self.path.rstrip("/")
            if route not in ("/v1/chat/completions", "/v1/completions"):
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            chat = route == "/v1/chat/completions"
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise ValueError("request too large")
                body = json.loads(self.rfile.read(length) or b"{}")
                prompt, decoding = _prompt(body, chat), _decoding(body)
            except (ValueError, TypeError) as error:
                return self._send(400, {"error": {"message": str(error), "type": "invalid_request_error"}})
            with lock:
                [(_, generated, tokens)] = list(backend.generate([prompt], decoding))
            outputs = [cut_at_stops(text, prompt.stop) for text in generated]
            reasons = _finish_reasons(backend, generated, outputs, tokens, decoding.max_new_tokens)
            choices = [{"index": i, "finish_reason": reason, **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
                       for i, (text, reason) in enumerate(zip(outputs, reasons))]
            self._send(200, {"id": f"scoder-{time.time_ns()}", "object": "chat.completion" if chat else "text_completion",
                             "created": int(time.time()), "model": model_name, "choices": choices,
                             "usage": {"completion_tokens": tokens}})

    return ThreadingHTTPServer((host, port), Handler)


def serve(backend, model_name: str, host: str, port: int) -> None:
    server = make_server(backend, model_name, host, port)
    print(f"serving {model_name} on http://{host}:{server.server_port}/v1", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
