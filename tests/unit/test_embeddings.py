"""Pin the embedder seam: loading by import path or OpenAI-compatible settings, clear
ConfigErrors, and the HTTP client against a local stub server."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import types
from collections.abc import Iterator

import pytest

from isokron.embeddings import Embedder, OpenAICompatibleEmbedder, load_embedder
from isokron.errors import ConfigError


class Toy:
    """A tiny embedder: 3 dimensions from the text's length."""

    dims = 3
    model_id = "toy-1"

    async def embed_documents(self, texts):
        return [[float(len(t)), 1.0, 0.0] for t in texts]

    async def embed_query(self, text):
        return [float(len(text)), 0.0, 1.0]


@pytest.fixture
def toy_module(monkeypatch) -> str:
    module = types.ModuleType("toy_embedders")
    module.instance = Toy()
    module.factory = Toy
    module.broken = lambda: (_ for _ in ()).throw(RuntimeError("no model"))
    module.not_one = object()
    monkeypatch.setitem(sys.modules, "toy_embedders", module)
    return "toy_embedders"


async def test_an_import_path_gives_an_object_or_calls_a_factory(toy_module):
    """'module:attr' names an embedder, or a zero-argument factory that returns one."""
    for attr in ("instance", "factory"):
        embedder = load_embedder(f"{toy_module}:{attr}")
        assert isinstance(embedder, Embedder) and embedder.model_id == "toy-1"
        assert await embedder.embed_documents(["ab", "abc"]) == [[2.0, 1.0, 0.0],
                                                                 [3.0, 1.0, 0.0]]


@pytest.mark.parametrize(("spec", "message"), [
    ("no_colon", "must be 'module:attr'"),
    ("no_such_module_x:thing", "cannot import 'no_such_module_x'"),
    ("toy_embedders:missing", "has no 'missing'"),
    ("toy_embedders:broken", "the factory failed: RuntimeError: no model"),
    ("toy_embedders:not_one", "dims must be a positive integer"),
])
def test_a_bad_import_path_is_a_config_error_that_names_it(toy_module, spec, message):
    """Every way an import path can be wrong: a ConfigError on key 'embedder'."""
    with pytest.raises(ConfigError, match=message) as caught:
        load_embedder(spec)
    assert caught.value.key == "embedder"


@pytest.mark.parametrize(("spec", "message"), [
    ({"provider": "cohere"}, "provider must be 'openai'"),
    ({"provider": "openai", "model": "m", "base_url": "ftp://x", "dims": 3}, "http"),
    ({"provider": "openai", "model": "m", "base_url": "http://x", "dims": 0}, "dims"),
    ({"provider": "openai", "model": "m", "base_url": "http://x", "dims": 3,
      "batch_size": 8}, ">= 32"),
    ({"provider": "openai", "model": "m", "base_url": "http://x", "dims": 3, "colour": 1},
     "unknown embedder key"),
    ({"provider": "openai", "model": "m", "base_url": "http://x", "dims": 3, "modle": 1},
     "did you mean .model"),
])
def test_bad_openai_settings_are_config_errors(spec, message):
    """The OpenAI-compatible settings are checked when loaded, each problem named."""
    with pytest.raises(ConfigError, match=message):
        load_embedder(spec)


class _Stub(http.server.BaseHTTPRequestHandler):
    calls: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"body": body, "auth": self.headers.get("Authorization")})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            return
        data = [{"index": i, "embedding": [float(len(t)), float(i), 1.0]}
                for i, t in reversed(list(enumerate(body["input"])))]
        reply = json.dumps({"data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.calls = []
    _Stub.status = 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_the_openai_client_batches_orders_and_authenticates(stub, monkeypatch):
    """70 texts in batches of 32, vectors back in input order, the key from the env."""
    monkeypatch.setenv("TOY_EMBED_KEY", "sekrit")
    embedder = load_embedder({"provider": "openai", "model": "e5-small", "base_url": stub,
                              "dims": 3, "api_key_env": "TOY_EMBED_KEY", "batch_size": 32})
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    assert embedder.model_id == "openai:e5-small"
    texts = [f"t{'x' * n}" for n in range(70)]
    vectors = await embedder.embed_documents(texts)
    assert [len(c["body"]["input"]) for c in _Stub.calls] == [32, 32, 6]
    assert {c["auth"] for c in _Stub.calls} == {"Bearer sekrit"}
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert await embedder.embed_query("hello") == [5.0, 0.0, 1.0]


async def test_a_failing_server_is_a_connection_error(stub):
    """HTTP 500 or wrong dimensions: an error naming the server, never a bad vector."""
    embedder = OpenAICompatibleEmbedder(model="m", base_url=stub, dims=3)
    _Stub.status = 500
    with pytest.raises(ConnectionError, match="HTTP 500"):
        await embedder.embed_query("x")
    _Stub.status = 200
    wrong = OpenAICompatibleEmbedder(model="m", base_url=stub, dims=4)
    with pytest.raises(ValueError, match="has 3 dimensions, not 4"):
        await wrong.embed_documents(["a"])


async def test_asymmetric_models_get_their_input_type(stub):
    """query_input_type / document_input_type go out as input_type, per kind of request;
    without them no input_type is sent."""
    embedder = load_embedder({"provider": "openai", "model": "e5", "base_url": stub, "dims": 3,
                              "query_input_type": "query", "document_input_type": "passage"})
    await embedder.embed_documents(["a", "b"])
    await embedder.embed_query("q")
    plain = OpenAICompatibleEmbedder(model="m", base_url=stub, dims=3)
    await plain.embed_query("q")
    assert [c["body"].get("input_type") for c in _Stub.calls] == ["passage", "query", None]
    with pytest.raises(ConfigError, match="query_input_type must be a non-empty string"):
        load_embedder({"provider": "openai", "model": "e5", "base_url": stub, "dims": 3,
                       "query_input_type": ""})


def test_an_unset_api_key_variable_is_a_config_error(monkeypatch):
    """api_key_env naming a variable that is not set: refused when loaded, by name (never
    a silent 401 at the first recall)."""
    monkeypatch.delenv("NO_SUCH_EMBED_KEY", raising=False)
    with pytest.raises(ConfigError, match="'NO_SUCH_EMBED_KEY', which is not set"):
        load_embedder({"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                       "dims": 3, "api_key_env": "NO_SUCH_EMBED_KEY"})
