"""Property tests: a token hidden by invisible characters, look-alikes or full-width forms
is still redacted; hostile inputs of 100 KB are redacted in bounded time."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isokron.guard.normalize import normalised
from isokron.guard.redact import redact_secrets

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u2062", "\u034f", "\u180e", "\u200e",
              "\u200f", "\ufeff", "\u00ad", "\ufe0f"]
_LOOKALIKE = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "A": "А", "E": "Е",
              "O": "О", "P": "Р", "C": "С", "K": "К", "T": "Т", "-": "\u2010", "_": "\uff3f"}


def _disguise(token: str, draw: st.DrawFn) -> str:
    out = []
    for ch in token:
        mode = draw(st.integers(0, 9))
        if mode == 0 and ch in _LOOKALIKE:
            ch = _LOOKALIKE[ch]
        elif mode == 1 and "!" <= ch <= "~":
            ch = chr(ord(ch) + 0xFEE0)  # full-width
        out.append(ch)
        if draw(st.integers(0, 6)) == 0:
            out.append(draw(st.sampled_from(_INVISIBLE)))
    return "".join(out)


@st.composite
def _hidden(draw: st.DrawFn) -> tuple[str, str]:
    prefix = draw(st.sampled_from(["ghp_", "xoxb-1234567890-", "sk_live_", "glpat-",
                                   "sk-proj-", "hf_", "npm_"]))
    body = draw(st.text(_ALNUM, min_size=36, max_size=40))
    body = "9Zz" + body  # a digit and both cases, as every real token has
    token = prefix + body[:36] if prefix == "npm_" else prefix + body
    return token, _disguise(token, draw)


@settings(max_examples=300, deadline=None)
@given(pair=_hidden(), before=st.sampled_from(["", "token ", "use: ", "key=\n"]),
       after=st.sampled_from(["", " ok", ".\n", " and more text"]))
def test_a_disguised_token_is_still_redacted(pair, before, after):
    token, disguised = pair
    out, labels = redact_secrets(f"{before}{disguised}{after}")
    assert labels, out
    folded = normalised(out).text
    assert token[-16:] not in folded, out


_HOSTILE = {
    "dashes": "a-" * 50_000, "spaced prefixes": "ghp_ab1 " * 12_500, "hex": "41" * 50_000,
    "percent": "%41" * 33_000, "digits": "4" * 100_000, "spaced digits": "4111 " * 20_000,
    "password=": "password=x " * 9_000, "colons": "a: b\n" * 20_000,
    "urls": "a://b:" * 16_000, "reversed prefixes": "_phg" * 25_000,
    "cyrillic": "а" * 100_000, "zero-width": "a\u200b" * 50_000,
    "assignments": "a=b" * 30_000, "pem": "-----BEGIN PRIVATE KEY----- " * 3_500,
}


@pytest.mark.parametrize("name", sorted(_HOSTILE))
def test_hostile_input_is_redacted_in_bounded_time(name):
    """About 100 KB each; linear scans take well under a second (generous for CI)."""
    started = time.perf_counter()
    redact_secrets(_HOSTILE[name])
    assert time.perf_counter() - started < 3.0
