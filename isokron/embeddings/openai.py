"""An embedder for any OpenAI-compatible ``/v1/embeddings`` server (stdlib HTTP, no SDK)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ._vectors import check_vectors

__all__ = ["OpenAICompatibleEmbedder"]


class OpenAICompatibleEmbedder:
    """POST ``{"model", "input"}`` to ``<base_url>/embeddings`` in batches of ``batch_size``
    (at least 32); the key, if any, comes from the environment variable ``api_key_env``.

    Asymmetric models (e5, and servers that embed queries and passages differently) take
    ``query_input_type`` and ``document_input_type``: sent as ``input_type`` with each
    request of that kind.
    """

    def __init__(self, *, model: Any, base_url: Any, dims: Any, api_key_env: Any = None,
                 batch_size: Any = 64, timeout_s: Any = 10.0, query_input_type: Any = None,
                 document_input_type: Any = None) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"embedder model must be a non-empty string, got {model!r}",
                              key="embedder")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"embedder base_url must be an http(s) URL, got {base_url!r}",
                              key="embedder")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise ConfigError(f"embedder dims must be a positive integer, got {dims!r}",
                              key="embedder")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 32:
            raise ConfigError(f"embedder batch_size must be an integer >= 32, got "
                              f"{batch_size!r}", key="embedder")
        if not isinstance(timeout_s, int | float) or not timeout_s > 0:
            raise ConfigError(f"embedder timeout_s must be positive, got {timeout_s!r}",
                              key="embedder")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            raise ConfigError(f"embedder api_key_env must name an environment variable, got "
                              f"{api_key_env!r}", key="embedder")
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise ConfigError(f"embedder api_key_env names {api_key_env!r}, which is not set "
                              "(or empty) in the environment", key="embedder")
        for name, value in (("query_input_type", query_input_type),
                            ("document_input_type", document_input_type)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"embedder {name} must be a non-empty string, got "
                                  f"{value!r}", key="embedder")
        self.query_input_type: str | None = query_input_type
        self.document_input_type: str | None = document_input_type
        self.model = model
        self.model_id = f"openai:{model}"
        self.dims = dims
        self.url = base_url.rstrip("/") + "/embeddings"
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.timeout_s = float(timeout_s)

    def _post(self, texts: list[str], input_type: str | None = None) -> list[list[float]]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        doc_out: dict[str, Any] = {"model": self.model, "input": texts}
        if input_type is not None:
            doc_out["input_type"] = input_type
        body = json.dumps(doc_out).encode()
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                doc = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            raise ConnectionError(f"embedder {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise ConnectionError(f"embedder {self.url} failed: {exc}") from None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise ConnectionError(f"embedder {self.url} answered without a data list")
        ordered = sorted(data, key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0)
        return check_vectors([d.get("embedding") if isinstance(d, dict) else None
                              for d in ordered], len(texts), self.dims, self.model_id)

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` in batches (off the event loop)."""
        out: list[list[float]] = []
        items = list(texts)
        for start in range(0, len(items), self.batch_size):
            out += await asyncio.to_thread(self._post, items[start:start + self.batch_size],
                                           self.document_input_type)
        return out

    async def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return (await asyncio.to_thread(self._post, [text], self.query_input_type))[0]
