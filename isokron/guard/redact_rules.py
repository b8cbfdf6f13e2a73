"""The redactor's rules: what a secret looks like, as spans of the text that holds it.

Each rule finds candidate matches with a regular expression and says which part of a
match is the secret (``None``: not a secret after all). :mod:`.redact` runs them over a
normalised view of the text and replaces the spans; this module has no entry point of its
own. Rules are ordered most specific first: where spans overlap, the first rule's label
names the merged span.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable

import attrs

from .redact_cards import CARD, card_span

__all__ = ["RULES", "SECRET_KEY_WORDS", "Rule", "Span", "has_mixed_alphabet", "longest_run",
           "scan_rules"]

#: (start, end, label)
Span = tuple[int, int, str]
Find = Callable[[re.Match[str]], tuple[int, int] | None]


def has_mixed_alphabet(blob: str) -> bool:
    """Real keys mix cases and digits; a hex digest, a word or a path does not."""
    return bool(re.search(r"[a-z]", blob) and re.search(r"[A-Z]", blob)
                and re.search(r"[0-9]", blob))


def _whole(m: re.Match[str]) -> tuple[int, int]:
    return m.span()


def _group(n: int) -> Find:
    return lambda m: m.span(n)


def _basic_auth(m: re.Match[str]) -> tuple[int, int] | None:
    # "Basic <base64 of user:password>"; "Basic instructions" is prose, not a credential.
    blob = m.group(2)
    try:
        decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return m.span(2) if ":" in decoded and decoded.isprintable() else None


#: Field names whose string value is a secret (JSON keys, YAML keys).
SECRET_KEY_WORDS = (
    "password", "passwd", "pwd", "passphrase", "secret", "client_secret", "secret_key",
    "api_key", "apikey", "api_token", "access_key", "access_token", "auth_token",
    "refresh_token", "token", "private_key", "credentials", "aws_secret_access_key",
)
_KEY_WORDS = "|".join(sorted(SECRET_KEY_WORDS, key=len, reverse=True))
# A YAML value that is a type annotation in code ("password: str"), not a secret.
TYPE_LIKE = re.compile(
    r"^(?:str|bytes|int|bool|float|None|Any|object|SecretStr|Optional\[.*\]|.*\|\s*None|"
    r"[A-Z][A-Za-z_]*(?:\[.*\])?)(?:\s*=.*)?[,)]?$")


_YAML_VALUE = re.compile(r":\s*([^\s#]+)[ \t]*$", re.MULTILINE)
_YAML_NAME = re.compile(rf"\s*-?\s*[A-Za-z0-9_.\-]*(?:{_KEY_WORDS})\s*", re.IGNORECASE)


def _yaml_fields(text: str) -> list[tuple[int, int]]:
    """``password: value`` as a line of its own (the key first on its line, one token after
    the colon, not a type annotation)."""
    spans = []
    for m in _YAML_VALUE.finditer(text):
        line = text.rfind("\n", 0, m.start()) + 1
        value = m.group(1)
        if (_YAML_NAME.fullmatch(text, line, m.start()) and not TYPE_LIKE.match(value)
                and not value.endswith(":")):
            spans.append(m.span(1))
    return spans


# NAME=value / NAME: value. Scanned from each separator backwards (fast on long prose):
# UPPER_CASE names (environment files) hide any value; snake_case names in code only a
# literal or a key-shaped value, never an expression ("token = self._token").
_SEPARATOR = re.compile(r"[=:]")
_ENV_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD|PASSWD|PASS|PWD|"
    r"PRIVATE_KEY|CREDENTIALS)$")
_CODE_NAME = re.compile(r"_(?:api_?key|token|secret|password|passwd|secret_key|access_key)$")
_VALUE = re.compile(r"[ \t]*(\"[^\"]*\"|'[^']*'|[^\s\"',;)]+)")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _assignment_secret(text: str, sep: int) -> tuple[int, int] | None:
    end = sep
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    start = end
    while start > 0 and end - start < 80 and text[start - 1] in _NAME_CHARS:
        start -= 1
    name = text[start:end]
    if not name or (start > 0 and text[start - 1] in _NAME_CHARS):
        return None
    value = _VALUE.match(text, sep + 1, sep + 1025)  # bounded: no quadratic scan
    if value is None:
        return None
    literal = value.group(1)
    if name.isupper() and _ENV_NAME.search(name):
        return value.span(1)
    if text[sep] == "=" and name.islower() and _CODE_NAME.search(name):
        quoted = literal[:1] in "\"'" and len(literal) >= 2
        if quoted or (len(literal) >= 8 and has_mixed_alphabet(literal)
                      and not re.search(r"[(.\[]", literal)):
            return value.span(1)
    return None


def _scan_assignments(text: str) -> list[tuple[int, int]]:
    if "=" not in text and ":" not in text:
        return []
    spans: list[tuple[int, int]] = []
    last = 0
    for sep in _SEPARATOR.finditer(text):
        if sep.start() < last:
            continue
        span = _assignment_secret(text, sep.start())
        if span is not None:
            spans.append(span)
            last = span[1]
    return spans


# password=… / Password=…; / pwd=… / password: … in every common syntax (libpq, ODBC, JDBC,
# YAML, INI, env). A bare lower-case word after "=" is a variable in code ("password=pw")
# unless the text is a connection string (another key=value of one).
_CONNINFO = re.compile(r"(?i)(?:^|[\s;?&(,])(?:host|hostaddr|user|dbname|port|sslmode|server|uid|"
                       r"user id|database|driver|data source|initial catalog)\s*=")
_NOT_SECRET = frozenset({"none", "null", "true", "false", "nil", "undefined", "required",
                         "optional", "str", "string", "self", "cls", "value", "default",
                         "...", "*", "xxx", "****", "<password>", "changeme"})


def _conninfo_near(m: re.Match[str]) -> bool:
    """Another key=value of a connection string within a few hundred characters."""
    return _CONNINFO.search(m.string, max(0, m.start() - 300), m.end() + 300) is not None


def _ci(word: str) -> str:
    """``word`` as a case-insensitive pattern, one character class per letter."""
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


def _password(m: re.Match[str]) -> tuple[int, int] | None:
    if m.start() and m.string[m.start() - 1].isalnum():  # "bypass=", "compass:"
        return None
    name, sep, value = m.group(1), m.group(2), m.group(3)
    named = m.start() > 0 and m.string[m.start() - 1] in "_.-"  # "db_pass:", "ftp.pwd:"
    if ":" in sep and not named and name.lower() in ("pass", "pwd"):
        return None  # "Pass: 12 / Fail: 0", "pwd: /home/app"
    if value[:1] in "\"'{":
        after = m.string[m.end():m.end() + 1]
        if sep == "=" and name.islower() and after in (",", ")") and not _conninfo_near(m):
            return None  # a keyword argument in an example call, not a configuration
        return m.span(3) if len(value) > 2 and value[1:-1].strip() else None
    bare = value.rstrip(".,")
    if (bare.lower() in _NOT_SECRET or bare.startswith(("$", "%(", "self.", "<"))
            or bare.lower() == name.lower() or "(" in bare or "[" in bare
            or TYPE_LIKE.match(bare)):
        return None
    if re.fullmatch(r"[a-z_][a-z_.]*", bare) and not _conninfo_near(m):
        return None  # a variable, an attribute or a word of prose
    if ":" in sep:
        rest = m.string[m.end():m.end() + 200].split("\n", 1)[0]
        if rest.strip() and not rest.lstrip().startswith("#") and bare.isalpha():
            return None  # "password: it must be eight characters" is prose
    return m.start(3), m.start(3) + len(bare)


_PEM_LINE = (r"-{{3,}}[ \t]*{}[ \t]+(?:[A-Z0-9]+[ \t]+)*PRIVATE[ \t]+KEY(?:[ \t]+BLOCK)?"
             r"[ \t]*-{{3,}}")

_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")
_AWS_CONTEXT = re.compile(r"(?i)aws|amazon|\bs3\b|secret.?access")


def _aws_secret(m: re.Match[str]) -> tuple[int, int] | None:
    blob = m.group(0)
    if len(blob) != 40 or (m.start() and m.string[m.start() - 1] in _KEY_CHARS) or (
            m.string[m.end():m.end() + 1] == "=" or not has_mixed_alphabet(blob)):
        return None
    near = m.string[max(0, m.start() - 160):m.start()]
    return m.span() if (_AWS_CONTEXT.search(near) or _AWS_KEY_ID.search(
        m.string, max(0, m.start() - 2000), m.end() + 2000)) else None


def _entropy(blob: str) -> float:
    """Shannon entropy in bits per character."""
    counts: dict[str, int] = {}
    for ch in blob:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(blob)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _high_entropy(m: re.Match[str]) -> tuple[int, int] | None:
    blob = m.group(2)
    return m.span(2) if has_mixed_alphabet(blob) and _entropy(blob) >= 4.5 else None


def _run_of_mixed(m: re.Match[str]) -> tuple[int, int] | None:
    if m.start() and m.string[m.start() - 1] in _KEY_CHARS:
        return None  # inside a longer run
    blob = m.group(0).rstrip("=")
    return (m.start(), m.start() + len(blob)) if has_mixed_alphabet(blob) else None


_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@attrs.frozen
class Rule:
    label: str
    pattern: re.Pattern[str]
    find: Find = _whole
    #: cheap pre-check: the rule runs only when one of these is in the (lower-cased) text
    needles: tuple[str, ...] = ()
    #: needles are matched case-sensitively against the text itself
    cased: bool = False
    #: the rule runs only when the text has a run of non-space characters this long
    min_token: int = 0
    #: a hand-written scanner used instead of ``pattern``
    scan: Callable[[str], list[tuple[int, int]]] | None = None
    #: a vendor prefix that never occurs in prose: also looked for in whitespace-joined,
    #: reversed and separator-spaced copies of token-like runs
    prefixed: bool = False


def _url_passwords(text: str) -> list[tuple[int, int]]:
    """``scheme://user:password@host``; the password may hold ``/`` or ``@`` (the last ``@``
    before the host ends it)."""
    spans = []
    for m in _URL_USER.finditer(text):
        stop = _RUN_END.search(text, m.end(), m.end() + 512)
        run = text[m.end():stop.start() if stop else m.end() + 512]
        at = -1
        for hit in re.finditer(r"@(?=[A-Za-z0-9.\-\[\]:]+(?:[/?#]|$))", run):
            at = hit.start()
        if at <= 0 or re.match(r"\d{1,5}(?:/|$)", run):
            continue
        spans.append((m.end(), m.end() + at))
    return spans


_RUN_END = re.compile(r"[\s\"'<>`]")
_URL_USER = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:", re.IGNORECASE)

RULES: tuple[Rule, ...] = (
    Rule("PRIVATE_KEY", re.compile(
        _PEM_LINE.format("BEGIN") + r"(?:.*?" + _PEM_LINE.format("END") + r"|.*\Z)",
        re.DOTALL | re.IGNORECASE), needles=("---",)),
    Rule("DATABASE_URL_PASSWORD", _URL_USER, needles=("://",), scan=_url_passwords),
    Rule("SLACK_WEBHOOK", re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+"),
        prefixed=True),
    Rule("URL_QUERY_SECRET", re.compile(
        r"([?&](?:key|api[_-]?key|token|access_token|auth|auth_token|secret|client_secret|"
        r"password|passwd|pwd|sig|signature|x-amz-signature|x-goog-signature|"
        r"x-amz-credential)=)([^&\s#\"'<>]+)", re.IGNORECASE),
        _group(2), needles=("?", "&")),
    Rule("SECRET_ASSIGNMENT", _SEPARATOR, scan=_scan_assignments),
    # JSON / Python mappings: a quoted secret-ish key with a quoted value.
    Rule("SECRET_FIELD", re.compile(
        rf"([\"'][A-Za-z0-9_.\-]*(?:{_KEY_WORDS})[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')",
        re.IGNORECASE), _group(2), needles=("\":", "':", "\" :", "' :")),
    # YAML: "password: value" as a line of its own (one token, not a type annotation).
    Rule("SECRET_FIELD", _YAML_VALUE, scan=_yaml_fields,
         needles=("pass", "pwd", "secret", "key", "token", "credentials")),
    Rule("PASSWORD", re.compile(
        # [pP] first, not re.IGNORECASE: the engine then skips to each "p" (twice as fast)
        rf"([pP](?:{_ci('ass')}(?:{_ci('word')}|{_ci('wd')}|{_ci('phrase')})?|{_ci('wd')}))"
        r"([\"']?[ \t]*[=:][ \t]*)(\"[^\"\n]*\"|'[^'\n]*'|\{[^}\n]*\}|[^\s;,'\"&<>(){}\\]+)"),
        _password, needles=("pass", "pwd")),
    Rule("BEARER_TOKEN", re.compile(r"(Bearer)\s+([A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE),
         _group(2), needles=("bearer",)),
    Rule("BASIC_AUTH", re.compile(r"(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
                                  re.IGNORECASE), _basic_auth, needles=("basic",)),
    Rule("JWT", re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*)?"),
         prefixed=True),
    Rule("GITHUB_TOKEN", re.compile(
        r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),
        prefixed=True),
    Rule("SLACK_TOKEN", re.compile(r"xox[abeoprs]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}"),
         prefixed=True),
    Rule("STRIPE_KEY", re.compile(r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
         needles=("_live_", "_test_"), prefixed=True),
    Rule("SHOPIFY_TOKEN", re.compile(r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"), prefixed=True),
    Rule("SQUARE_TOKEN", re.compile(r"sq0atp-[0-9A-Za-z_\-]{22}|sq0csp-[0-9A-Za-z_\-]{43}"),
         prefixed=True),
    Rule("GOOGLE_API_KEY", re.compile(r"AIza[0-9A-Za-z_\-]{35}"), prefixed=True),
    Rule("NPM_TOKEN", re.compile(r"npm_[A-Za-z0-9]{36}\b"), prefixed=True),
    Rule("HUGGINGFACE_TOKEN", re.compile(r"hf_[A-Za-z0-9]{30,}\b"), prefixed=True),
    Rule("SENDGRID_KEY", re.compile(r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
         prefixed=True),
    Rule("TWILIO_KEY", re.compile(r"SK[0-9a-fA-F]{32}\b"), cased=True, needles=("SK",)),
    Rule("SK_KEY", re.compile(r"sk-[A-Za-z0-9_\-]{16,}"), prefixed=True),
    Rule("GITLAB_TOKEN", re.compile(r"glpat-[A-Za-z0-9_\-]{20,}"), prefixed=True),
    Rule("PYPI_TOKEN", re.compile(r"pypi-AgE[A-Za-z0-9_\-]{50,}"), prefixed=True),
    Rule("TELEGRAM_BOT_TOKEN", re.compile(r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}"),
         needles=(":aa",)),
    Rule("DISCORD_BOT_TOKEN", re.compile(
        r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}"),
        _run_of_mixed, min_token=58),
    Rule("AZURE_STORAGE_KEY", re.compile(r"(AccountKey=)([A-Za-z0-9+/]{40,}={0,2})"),
         _group(2), cased=True, needles=("AccountKey=",)),
    Rule("MAILCHIMP_KEY", re.compile(r"[0-9a-f]{32}-us[0-9]{1,2}\b"), needles=("-us",)),
    Rule("AWS_SECRET_ACCESS_KEY", re.compile(r"[A-Za-z0-9/+]{40,}"),
         _aws_secret, min_token=40, needles=("aws", "amazon", "s3", "secret", "akia", "asia")),
    Rule("AWS_ACCESS_KEY_ID", _AWS_KEY_ID,
         needles=("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"), cased=True, prefixed=True),
    Rule("CARD_NUMBER", CARD, card_span),
    # A quoted literal of 32+ random-looking key characters (detect-secrets' approach): no
    # word, path or digest has this much entropy in every alphabet at once.
    Rule("HIGH_ENTROPY_STRING", re.compile(r"([\"'])([A-Za-z0-9+/=_\-]{32,256})\1"),
         _high_entropy, min_token=34),
    Rule("BASE64_BLOB", re.compile(r"[A-Za-z0-9+/]{64,}={0,2}"),
         _run_of_mixed, min_token=64),
)

# A rule's needles are a cheap pre-check for a pattern that is slow to run over prose; a
# pattern that starts with a literal prefix needs none (the regex engine skips to it).
_RULE_NEEDLES = tuple(tuple(n if rule.cased else n.lower() for n in rule.needles)
                      for rule in RULES)


def longest_run(text: str) -> int:
    """The length of the longest run of non-space characters."""
    return max(map(len, text.split()), default=0)


def scan_rules(text: str, *, prefixed_only: bool = False) -> list[Span]:
    """Every secret span the rules find in ``text`` (``prefixed_only``: the vendor-prefix
    rules alone, for derived copies of a token)."""
    spans: list[Span] = []
    lower = text.lower()
    longest = -1
    for rule, needles in zip(RULES, _RULE_NEEDLES, strict=True):
        if prefixed_only and not rule.prefixed:
            continue
        if needles and not any(n in (text if rule.cased else lower) for n in needles):
            continue
        if rule.min_token:
            if longest < 0:
                longest = longest_run(text)
            if longest < rule.min_token:
                continue
        if rule.scan is not None:
            spans += [(s, e, rule.label) for s, e in rule.scan(text)]
            continue
        for match in rule.pattern.finditer(text):
            span = rule.find(match)
            if span is not None and span[1] > span[0]:
                spans.append((span[0], span[1], rule.label))
    return spans
