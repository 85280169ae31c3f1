"""Any OpenAI-compatible HTTP server (vLLM, TGI, llama.cpp, SGLang, `scoder serve`, hosted APIs): chat
and completions endpoints, over the standard library's HTTP client, several requests at once.

Chat prompts go to /chat/completions as messages; a response prefix cannot be prefilled there, so it is
left out (evalplus' and bigcodebench's OpenAI providers send the instruction alone too). Base prompts
need /completions (`--api completions`).

The API key comes from $OPENAI_API_KEY only: it is no option, so no command line, recipe or manifest holds it.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Literal

from harness.generation.backend import Decoding

REQUEST_TIMEOUT_S = 600.0
RETRIES = 5
RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)
MAX_STOPS = 4  # the OpenAI API takes at most four stop sequences


class ServerError(OSError):
    """The server refused or could not be reached (after retries for passing faults)."""


@dataclass(frozen=True)
class OpenAIOptions:
    """The openai backend's options: flags of `scoder generate`, and recipe fields unless marked recipe: False
    (harness.generation.options derives both)."""
    base_url: str | None = field(default=None, metadata={
        "help": "the server's URL ending in /v1 (default: $OPENAI_BASE_URL)"})
    api: Literal["chat", "completions"] = field(default="chat", metadata={
        "help": "the chat or the completions endpoint",
        "recipe": False,  # the method's prompts are chat messages
    })

    def __post_init__(self):
        if self.api not in ("chat", "completions"):
            raise ValueError("api must be chat or completions")


class OpenAICompatibleBackend:
    name = "openai"

    def __init__(self, model: str, options: OpenAIOptions = OpenAIOptions()):
        self.model = model
        self.base_url = (options.base_url or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
        if not self.base_url:
            raise ValueError("the openai backend needs --base-url (or $OPENAI_BASE_URL), e.g. http://localhost:8000/v1")
        self.api = options.api
        self.chat = options.api == "chat"
        self.api_key = os.environ.get("OPENAI_API_KEY", "none")

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model, "server": self.base_url, "api": self.api,
                "chat_template": self.chat, "versions": {}}

    def _post(self, route: str, body: dict) -> dict:
        request = urllib.request.Request(f"{self.base_url}/{route}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"})
        for attempt in range(RETRIES):
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as error:
                detail = error.read()[:500].decode(errors="replace")
                if error.code not in RETRY_STATUSES or attempt == RETRIES - 1:
                    raise ServerError(f"{self.base_url}/{route}: HTTP {error.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt == RETRIES - 1:
                    raise ServerError(f"cannot reach the server at {self.base_url} ({getattr(error, 'reason', error)}, {RETRIES} tries): "
                                      "start it (e.g. `scoder serve --port 8000`, or vLLM's server) or correct --base-url") from None
            time.sleep(min(2 ** attempt, 30))
        raise AssertionError("unreachable")

    def _request(self, prompt, decoding: Decoding) -> tuple[list[str], int]:
        body = {"model": self.model, "n": decoding.n, "temperature": decoding.temperature, "max_tokens": decoding.max_new_tokens,
                "seed": decoding.seed}
        if not decoding.greedy:
            body["top_p"] = decoding.top_p
        if prompt.is_chat:
            if not self.chat:
                raise ValueError("a chat prompt needs --api chat")
            body["messages"] = list(prompt.messages)
            route = "chat/completions"
        else:
            body["prompt"] = prompt.text
            route = "completions"
        if prompt.stop:
            body["stop"] = list(prompt.stop[:MAX_STOPS])  # the rest are cut client-side by the prompt set
        reply = self._post(route, body)
        try:
            choices = sorted(reply["choices"], key=lambda choice: choice.get("index", 0))
            texts = [choice["message"]["content"] if prompt.is_chat else choice["text"] for choice in choices]
        except (KeyError, TypeError) as error:
            raise ServerError(f"{self.base_url}/{route}: unexpected reply ({error}): {str(reply)[:300]}") from None
        if len(texts) != decoding.n:
            raise ServerError(f"{self.base_url}/{route}: asked for {decoding.n} outputs, got {len(texts)}")
        return [text or "" for text in texts], int((reply.get("usage") or {}).get("completion_tokens", 0))

    def generate(self, prompts, decoding: Decoding):
        with ThreadPoolExecutor(decoding.batch_size) as pool:
            futures = {pool.submit(self._request, prompt, decoding): index for index, prompt in enumerate(prompts)}
            try:
                for future in as_completed(futures):
                    outputs, tokens = future.result()
                    yield futures[future], outputs, tokens
            finally:
                for future in futures:
                    future.cancel()
