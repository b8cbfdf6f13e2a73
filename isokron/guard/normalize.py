"""The views the redactor scans: the text normalised, and copies of its token-like runs.

A :class:`View` is a string with a map from each of its characters back to the original
text, so a secret found in the view is redacted in the original. :func:`normalised` is
the text after NFKC, with invisible and format characters dropped and look-alike letters
and dashes folded to ASCII. From it come bounded derived copies: a token broken by white
space, joined up again (:func:`joined_runs`); base64, hex and URL-encoded runs, decoded
(:func:`decoded_runs`); reversed runs (:func:`reversed_runs`); and runs with a separator
between every character or every few (:func:`separated_runs`). A derived copy that is not
the same length as its run maps every character to the whole run.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator

import attrs

__all__ = ["View", "decoded_runs", "joined_runs", "normalised", "reversed_runs",
           "separated_runs"]


@attrs.frozen
class View:
    """``text`` and, per character, the span of the original it came from."""

    text: str
    #: None: the original itself
    starts: list[int] | None
    ends: list[int] | None

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text behind ``text[start:end]``."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]

    @classmethod
    def identity(cls, text: str) -> View:
        return cls(text, None, None)

    @classmethod
    def whole(cls, text: str, start: int, end: int) -> View:
        """A copy whose every character stands for the original's ``[start, end)``."""
        return cls(text, [start] * len(text), [end] * len(text))

    def sub(self, text: str, picks: list[int]) -> View:
        """A view of ``text`` whose character ``k`` is this view's character ``picks[k]``."""
        if self.starts is None or self.ends is None:
            return View(text, picks, [p + 1 for p in picks])
        return View(text, [self.starts[p] for p in picks], [self.ends[p] for p in picks])

    def over(self, start: int, end: int, text: str) -> View:
        """``text``, standing for the whole of this view's ``[start, end)``."""
        s, e = self.original(start, end)
        return View.whole(text, s, e)


# Letters that look like Latin ones (Cyrillic, Greek, Armenian, Latin extensions) and every
# dash and hyphen: folded to ASCII so "ѕk‐lіve" is read as "sk-live".
_LOOKALIKES = str.maketrans({
    **dict(zip("аеорсуххѕіјһԁԛԝɡӏ", "aeopcyxxsijhdqwgl", strict=True)),
    **dict(zip("АВЕКМНОРСТХУЅІЈԚԜ", "ABEKMHOPCTXYSIJQW", strict=True)),
    **dict(zip("αβεικνορτυχωϲϳ", "abeiknoptuxwcj", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
    **dict(zip("օոսցհ", "onugh", strict=True)),
    **{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\u02d7\u2e3a\u2e3b"
                       "\ufe58\ufe63\uff0d\u1806\u2796"},
    **{c: "_" for c in "\uff3f\u2017"},
})
_DROPPED = frozenset("\u034f\u180e\u115f\u1160\u3164\uffa0")


@functools.lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """What one non-ASCII character reads as: '' for an invisible one."""
    if ch in _DROPPED or unicodedata.category(ch) in ("Cf", "Mn", "Me") or (
            "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef"):
        return ""
    out = unicodedata.normalize("NFKC", ch).translate(_LOOKALIKES)
    return "".join(c for c in out if unicodedata.category(c) not in ("Cf", "Mn", "Me"))


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def normalised(text: str) -> View:
    """``text`` after NFKC, invisible characters dropped and look-alikes folded to ASCII."""
    if text.isascii():
        return View.identity(text)
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    last = 0
    changed = False
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        out = _fold(m.group(0))
        if out == m.group(0):
            continue
        changed = True
        parts.append(text[last:i])
        starts.extend(range(last, i))
        ends.extend(range(last + 1, i + 1))
        parts.append(out)
        starts.extend([i] * len(out))
        ends.extend([i + 1] * len(out))
        last = i + 1
    if not changed:
        return View.identity(text)
    parts.append(text[last:])
    starts.extend(range(last, len(text)))
    ends.extend(range(last + 1, len(text) + 1))
    return View("".join(parts), starts, ends)


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.")
_GAP = frozenset(" \t\r\n")
#: at most this many gaps joined, this many characters read, per window
MAX_JOINS, MAX_WINDOW = 6, 320


def joined_runs(view: View, starts: Iterator[int]) -> Iterator[tuple[View, list[int]]]:
    """From each start (a vendor prefix), the token-like run with up to ``MAX_JOINS`` gaps of
    one or two white-space characters closed up; yields the joined copy and the positions
    in it where a gap was closed. Runs without a gap are not yielded."""
    text = view.text
    done = -1
    for start in starts:
        if start < done:
            continue
        picks: list[int] = []
        joins: list[int] = []
        i = start
        while i < len(text) and len(picks) < MAX_WINDOW:
            if text[i] in _TOKEN_CHARS:
                picks.append(i)
                i += 1
                continue
            gap = i
            while gap < len(text) and gap - i < 2 and text[gap] in _GAP:
                gap += 1
            if gap == i or len(joins) >= MAX_JOINS or gap >= len(text) or (
                    text[gap] not in _TOKEN_CHARS):
                break
            joins.append(len(picks))
            i = gap
        done = i
        if joins:
            yield view.sub("".join(text[p] for p in picks), picks), joins


#: encoded runs: at most this many decoded per text, each at most this long
MAX_DECODED, MAX_ENCODED_CHARS = 32, 8192
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
# base64 wrapped at a line length (MIME, PEM-style): lines of 16+ joined up
_BASE64_WRAPPED = re.compile(r"[A-Za-z0-9+/]{16,}(?:\r?\n[A-Za-z0-9+/]{16,})*\r?\n"
                             r"[A-Za-z0-9+/]{4,}={0,2}")
_URL_RUN = re.compile(r"[A-Za-z0-9._~+\-=&/:?%]*%[0-9A-Fa-f]{2}[A-Za-z0-9._~+\-=&/:?%]*")
# hex as "\x67\x68…", "0x6768…" or "67:68:…"
_HEX_ESCAPED = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){8,}")
_HEX_PREFIXED = re.compile(r"0[xX](?:[0-9A-Fa-f]{2}){8,}")
_HEX_COLONS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){9,}")


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and all(c.isprintable() or c in "\n\r\t" for c in text) else None


def _b64(run: str) -> str | None:
    blob = run.rstrip("=").replace("-", "+").replace("_", "/")
    if len(blob) % 4 == 1:
        return None
    try:
        return _readable(base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _hex(digits: str) -> str | None:
    try:
        return _readable(bytes.fromhex(digits))
    except ValueError:
        return None


def _decode(kind: str, run: str) -> str | None:
    if kind == "url":
        return urllib.parse.unquote_plus(run)
    if kind == "wrapped":
        return _b64(re.sub(r"\s", "", run))
    if kind == "hex":
        return _hex(re.sub(r"\\x|0[xX]|:", "", run))
    if len(run) >= 20 and len(run) % 2 == 0 and all(c in _HEX for c in run):
        return _hex(run)
    return _b64(run)


def decoded_runs(view: View, *, long: bool = True) -> Iterator[View]:
    """Base64 (also wrapped over lines), hex (bare, ``\\x``-escaped, ``0x``-prefixed or
    colon-separated) and URL-encoded runs of ``view``, decoded when the result is text;
    each decoded copy stands for its whole run (``long``: the text has a run of 16
    characters or more, else only URL-encoded and escaped runs are looked for)."""
    text = view.text
    count = 0
    candidates: list[tuple[re.Pattern[str], str]] = []
    if long:
        candidates += [(_BASE64_RUN, "b64"), (_HEX_PREFIXED, "hex")]
        if "\n" in text:
            candidates.append((_BASE64_WRAPPED, "wrapped"))
    if "%" in text:
        candidates.append((_URL_RUN, "url"))
    if "\\x" in text:
        candidates.append((_HEX_ESCAPED, "hex"))
    if ":" in text and long:
        candidates.append((_HEX_COLONS, "hex"))
    for pattern, kind in candidates:
        for m in pattern.finditer(text):
            run = m.group(0)
            if len(run) > MAX_ENCODED_CHARS or (kind == "b64" and m.start() and (
                    text[m.start() - 1] in _B64_CHARS)):
                continue
            decoded = _decode(kind, run)
            if decoded is None or decoded == run:
                continue
            count += 1
            if count > MAX_DECODED:
                return
            yield view.over(m.start(), m.end(), decoded)


_HEX = frozenset("0123456789abcdefABCDEF")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=")


def reversed_runs(view: View, hits: Iterator[int]) -> Iterator[View]:
    """The token-like run around each hit (a reversed vendor prefix), reversed."""
    text = view.text
    done = -1
    for hit in hits:
        if hit < done:
            continue
        start = end = hit
        while start > max(0, done, hit - MAX_WINDOW) and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        while end < len(text) and text[end] in _TOKEN_CHARS and end - start < MAX_WINDOW:
            end += 1
        done = end
        yield view.over(start, end, text[start:end][::-1])


# A separator between every character ("s-k---l-i-v-e") or every few ("ghp_abcd-efgh-…").
_EVERY_CHAR = re.compile(r"(?<!\S)(?:[^\s\"'<>]([-. _]))(?:[^\s\"'<>]\1){11,}[^\s\"'<>]?")
_SEPARATED_HINTS = tuple(re.compile(p) for p in (  # one literal-led pattern each: fast
    r"-\S-\S-\S-\S-", r"\.\S\.\S\.\S\.\S\.", r"_\S_\S_\S_\S_", r" \S \S \S \S "))
_GROUPED_HINT = re.compile(r"[-.][A-Za-z0-9_]{1,8}[-.][A-Za-z0-9_]{1,8}[-.]")
_EVERY_FEW = re.compile(r"[A-Za-z0-9_]{2,8}(?:[-.][A-Za-z0-9_]{1,8}){3,}")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def separated_runs(view: View, keep: Callable[[str], bool]) -> Iterator[View]:
    """Runs with a separator between every character or every few, with it taken out;
    only the copies ``keep`` accepts (a vendor prefix in them)."""
    text = view.text
    if any(hint.search(text) for hint in _SEPARATED_HINTS):
        for m in _EVERY_CHAR.finditer(text):
            if keep(joined := m.group(0)[0::2]):
                yield view.over(m.start(), m.end(), joined)
    for m in _EVERY_FEW.finditer(text) if _GROUPED_HINT.search(text) else ():
        if m.start() and text[m.start() - 1] in _WORD_CHARS:
            continue
        if keep(joined := re.sub(r"[-.]", "", m.group(0))):
            yield view.over(m.start(), m.end(), joined)
