"""A corpus of synthetic secrets and near-misses, generated here (no real secret anywhere).

:data:`SECRET_CASES` holds one case per format and per obfuscation of a format: the text,
and the parts of it that must not survive redaction. :data:`NEAR_MISSES` must pass through
unchanged. Every token is built from a seeded generator, so it has a secret's shape and
nobody's secret; most carry ``FAKE`` or ``EXAMPLE`` where the format allows letters.
The measurement (:mod:`.redact_corpus`) and the tests read the same cases.
"""

from __future__ import annotations

import base64
import random
import urllib.parse

import attrs

__all__ = ["NEAR_MISSES", "SECRET_CASES", "SecretCase", "luhn_number"]

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_ALNUM = _UPPER + _LOWER + _DIGITS
_HEXL = "0123456789abcdef"


def _chars(alphabet: str, n: int, salt: str) -> str:
    """``n`` characters of ``alphabet`` from a generator seeded by ``salt`` (with a digit,
    an upper- and a lower-case letter when the alphabet has them)."""
    rng = random.Random(salt)
    out = [rng.choice(alphabet) for _ in range(n)]
    for i, group in enumerate((_DIGITS, _UPPER, _LOWER)):
        pool = [c for c in group if c in alphabet]
        if pool and n > 3:
            out[i * 2 + 1] = rng.choice(pool)
    return "".join(out)


def luhn_number(prefix: str, length: int, salt: str) -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    body = prefix + _chars(_DIGITS, length - len(prefix) - 1, salt)
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def _luhn_broken(prefix: str, length: int, salt: str) -> str:
    """A number of ``length`` digits starting with ``prefix`` that fails the Luhn check."""
    valid = luhn_number(prefix, length, salt)
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


@attrs.frozen
class SecretCase:
    name: str
    text: str
    #: substrings that must not be in the redacted text
    leaks: tuple[str, ...]
    #: the finding this case came from: "format" or the obfuscation it tests
    kind: str = "format"


def _groups(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at:at + size])
        at += size
    return sep.join(parts)


GH = "ghp_FAKE" + _chars(_ALNUM, 32, "gh")
SLACK = "xoxb-" + _chars(_DIGITS, 12, "s1") + "-" + _chars(_DIGITS, 13, "s2") + "-FAKE" + (
    _chars(_ALNUM, 20, "s3"))
STRIPE = "sk_live_FAKE" + _chars(_ALNUM, 24, "stripe")
OPENAI = "sk-proj-FAKE" + _chars(_ALNUM, 40, "openai")
AWS_ID = "AKIA" + "FAKE" + _chars(_UPPER + "234567", 12, "awsid")
AWS_SECRET = _chars(_ALNUM + "/+", 36, "awssecret") + "FAKE"
HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
PAYLOAD = base64.urlsafe_b64encode(b'{"sub":"fake-user-0001","name":"EXAMPLE"}').decode(
    ).rstrip("=")
SIG = _chars(_ALNUM + "_-", 43, "jwtsig")
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + _chars(_ALNUM + "+/", 32, "pem")
VISA = luhn_number("4", 16, "visa")
MASTER = luhn_number("53", 16, "master")
AMEX = luhn_number("37", 15, "amex")
DISCOVER = luhn_number("6011", 16, "discover")
PW = "FakePw-" + _chars(_ALNUM, 8, "pw") + "!"
INVISIBLE = {"U+2062": "\u2062", "U+034F": "\u034f", "U+180E": "\u180e", "U+200E": "\u200e"}
_CYRILLIC = str.maketrans("aeopcxyAEOPCXK", "аеорсхуАЕОРСХК")


def _formats() -> list[SecretCase]:
    c = SecretCase
    return [
        c("github-classic", f"token {GH} for CI", (GH[8:],)),
        c("github-fine-grained", "pat github_pat_" + _chars(_ALNUM, 22, "ghf") + "_" +
          _chars(_ALNUM, 59, "ghf2"), (_chars(_ALNUM, 22, "ghf"),)),
        c("gitlab", "glpat-FAKE" + _chars(_ALNUM, 16, "gl"), (_chars(_ALNUM, 16, "gl"),)),
        c("slack-bot", f"bot {SLACK}", (SLACK[5:],)),
        c("slack-user", "xoxp-" + _chars(_DIGITS, 12, "p1") + "-" + _chars(_DIGITS, 12, "p2") +
          "-FAKE" + _chars(_HEXL, 28, "p3"), (_chars(_HEXL, 28, "p3"),)),
        c("slack-app", "xapp-1-A0FAKE" + _chars(_UPPER + _DIGITS, 6, "xa") + "-" +
          _chars(_DIGITS, 13, "xa2") + "-" + _chars(_HEXL, 64, "xa3"), (_chars(_HEXL, 64, "xa3"),)),
        c("slack-webhook", "https://hooks.slack.com/services/T0FAKE001/B0FAKE002/" +
          _chars(_ALNUM, 24, "hook"), (_chars(_ALNUM, 24, "hook"),)),
        c("stripe-secret", f"stripe {STRIPE}", (STRIPE[8:],)),
        c("stripe-restricted", "rk_live_FAKE" + _chars(_ALNUM, 24, "rk"),
          (_chars(_ALNUM, 24, "rk"),)),
        c("google-api-key", "AIza" + "FAKE" + _chars(_ALNUM + "_-", 31, "goog"),
          (_chars(_ALNUM + "_-", 31, "goog"),)),
        c("npm", "npm_FAKE" + _chars(_ALNUM, 32, "npm"), (_chars(_ALNUM, 32, "npm"),)),
        c("huggingface", "hf_FAKE" + _chars(_ALNUM, 30, "hf"), (_chars(_ALNUM, 30, "hf"),)),
        c("sendgrid", "SG.FAKE" + _chars(_ALNUM, 15, "sg1") + "." + _chars(_ALNUM, 43, "sg2"),
          (_chars(_ALNUM, 43, "sg2"),)),
        c("twilio", "SK" + _chars(_HEXL, 32, "tw"), (_chars(_HEXL, 32, "tw"),)),
        c("openai", f"key {OPENAI}", (OPENAI[12:],)),
        c("pypi", "pypi-AgEIcHlwaS5vcmc" + _chars(_ALNUM, 60, "pypi"),
          (_chars(_ALNUM, 60, "pypi"),)),
        c("telegram", _chars(_DIGITS, 9, "tg") + ":AA" + _chars(_ALNUM, 33, "tg2"),
          (_chars(_ALNUM, 33, "tg2"),)),
        c("discord-bot", "MTFAKE" + _chars(_ALNUM, 18, "dc1") + "." + _chars(_ALNUM, 6, "dc2") +
          "." + _chars(_ALNUM + "_-", 27, "dc3"), (_chars(_ALNUM + "_-", 27, "dc3"),)),
        c("shopify-access", "shpat_" + _chars(_HEXL, 32, "shpat"), (_chars(_HEXL, 32, "shpat"),)),
        c("shopify-shared", "shpss_" + _chars(_HEXL, 32, "shpss"), (_chars(_HEXL, 32, "shpss"),)),
        c("shopify-custom", "shpca_" + _chars(_HEXL, 32, "shpca"), (_chars(_HEXL, 32, "shpca"),)),
        c("shopify-private", "shppa_" + _chars(_HEXL, 32, "shppa"), (_chars(_HEXL, 32, "shppa"),)),
        c("azure-storage", "DefaultEndpointsProtocol=https;AccountName=fake;AccountKey=" +
          _chars(_ALNUM + "+/", 86, "az") + "==;", (_chars(_ALNUM + "+/", 86, "az"),)),
        c("mailchimp", _chars(_HEXL, 32, "mc") + "-us14", (_chars(_HEXL, 32, "mc"),)),
        c("aws-key-id", f"id {AWS_ID}", (AWS_ID,)),
        c("aws-secret-with-id", f"{AWS_ID} {AWS_SECRET}", (AWS_SECRET,)),
        c("aws-secret-bare", f"the aws secret access key is {AWS_SECRET}", (AWS_SECRET,)),
        c("jwt", f"{HEADER}.{PAYLOAD}.{SIG}", (PAYLOAD, SIG)),
        c("jwt-short-signature", f"{HEADER}.{PAYLOAD}.abc", (PAYLOAD,)),
        c("jwt-split-in-two", f"{HEADER}.{PAYLOAD[:20]}\n{PAYLOAD[20:]}.{SIG}",
          (PAYLOAD[:20], SIG)),
        c("pem-rsa", f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
          (PEM_BODY,)),
        c("pem-lower-case", f"-----begin private key-----\n{PEM_BODY}\n-----end private key-----",
          (PEM_BODY,)),
        c("pem-double-space",
          f"-----BEGIN  PRIVATE  KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----",
          (PEM_BODY,)),
        c("pgp", f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PEM_BODY}\n=FAKE\n"
          "-----END PGP PRIVATE KEY BLOCK-----", (PEM_BODY,)),
        c("url-password", f"postgresql://app:{PW}@db.internal:5432/app", (PW,)),
        c("url-password-slash", "postgres://app:Fake/" + PW + "@db.internal/app", ("Fake/" + PW,)),
        c("url-password-at", "mysql://app:Fake@" + PW + "@db.internal:3306/app", ("Fake@", PW)),
        c("libpq", f"host=db.internal port=5432 user=app password={PW} dbname=app", (PW,)),
        c("odbc", f"Driver={{ODBC Driver 18}};Server=db;Uid=app;Password={PW};", (PW,)),
        c("odbc-pwd", f"Server=db;Database=app;User Id=app;Pwd={PW};", (PW,)),
        c("jdbc", f"jdbc:postgresql://db.internal:5432/app?user=app&password={PW}", (PW,)),
        c("yaml-quoted", f'database:\n  password: "{PW}"\n  host: db', (PW,)),
        c("yaml-commented", f"db_password: {PW}  # rotate monthly", (PW,)),
        c("ini", f"[db]\npassword = {PW}\n", (PW,)),
        c("env", f"export DB_PASSWORD={PW}", (PW,)),
        c("json-field", f'{{"api_key": "{PW}", "region": "eu"}}', (PW,)),
        c("url-query", f"https://api.example.com/v1?token={PW}&q=1", (PW,)),
        c("bearer", f"Authorization: Bearer {PW}", (PW,)),
        c("basic-auth", "Authorization: Basic " + base64.b64encode(f"app:{PW}".encode()).decode(),
          (base64.b64encode(f"app:{PW}".encode()).decode(),)),
        c("card-visa-spaces", "card " + _groups(VISA, (4, 4, 4, 4), " "),
          (_groups(VISA, (4, 4, 4, 4), " "),)),
        c("card-mastercard-dashes", "paid with " + _groups(MASTER, (4, 4, 4, 4), "-"),
          (_groups(MASTER, (4, 4, 4, 4), "-"),)),
        c("card-amex", f"amex {_groups(AMEX, (4, 6, 5), ' ')}", (_groups(AMEX, (4, 6, 5), " "),)),
        c("card-plain", f"number {DISCOVER} exp 12/29", (DISCOVER,)),
        # formats detect-secrets has a plugin for
        c("square-access", "sq0atp-" + _chars(_ALNUM + "_-", 22, "sqa"),
          (_chars(_ALNUM + "_-", 22, "sqa"),)),
        c("square-oauth-secret", "sq0csp-" + _chars(_ALNUM + "_-", 43, "sqs"),
          (_chars(_ALNUM + "_-", 43, "sqs"),)),
        c("artifactory", "AKCp8FAKE" + _chars(_ALNUM, 64, "akc"), (_chars(_ALNUM, 64, "akc"),)),
        c("high-entropy-literal", 'signing_value = "' + _chars(_ALNUM + "+/", 40, "he") + '"',
          (_chars(_ALNUM + "+/", 40, "he"),)),
    ]


def _obfuscated() -> list[SecretCase]:
    c = SecretCase
    cases = [
        c("split-by-newline", f"token {GH[:16]}\n{GH[16:]}", (GH[4:16], GH[16:]), "split"),
        c("split-by-space", f"bot {SLACK[:20]} {SLACK[20:]}", (SLACK[5:20], SLACK[20:]), "split"),
        c("aws-key-id-split", f"id {AWS_ID[:10]} {AWS_ID[10:]}", (AWS_ID[10:],), "split"),
    ]
    for name, ch in INVISIBLE.items():
        hidden = ch.join([GH[:6], GH[6:14], GH[14:22], GH[22:]])
        cases.append(c(f"invisible-{name}", f"token {hidden} ok", (hidden, GH[14:22]), "invisible"))
    cyr = STRIPE.translate(_CYRILLIC)
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in GH)
    wide_dash = SLACK.replace("-", "\uff0d")
    cases += [
        c("cyrillic-lookalikes", f"key {cyr}", (cyr, cyr[8:]), "lookalike"),
        c("full-width", f"token {wide}", (wide, wide[8:]), "lookalike"),
        c("full-width-dash", f"bot {wide_dash}", (wide_dash, wide_dash[5:]), "lookalike"),
    ]
    b64 = base64.b64encode(f"GITHUB_TOKEN={GH}".encode()).decode()
    hexed = OPENAI.encode().hex()
    quoted = urllib.parse.quote("https://hooks.slack.com/services/T0FAKE001/B0FAKE002/" +
                                _chars(_ALNUM, 24, "hook"), safe="")
    wrapped = b64[:24] + "\n" + b64[24:]
    grouped = "-".join(STRIPE[i:i + 4] for i in range(0, len(STRIPE), 4))
    cases += [
        c("base64-wrapped", f"blob:\n{wrapped}", (b64[24:],), "encoded"),
        c("hex-escaped", "bytes " + "".join(f"\\x{b:02x}" for b in GH.encode()),
          ("".join(f"\\x{b:02x}" for b in GH.encode())[40:],), "encoded"),
        c("hex-0x", f"value 0x{OPENAI.encode().hex()}", (OPENAI.encode().hex()[20:],), "encoded"),
        c("hex-colons", "mac " + ":".join(f"{b:02x}" for b in STRIPE.encode()),
          (":".join(f"{b:02x}" for b in STRIPE.encode())[30:],), "encoded"),
        c("dash-grouped", f"spelled {grouped}", (grouped[10:],), "separated"),
        c("base64", f"config blob {b64}", (b64,), "encoded"),
        c("hex", f"payload {hexed}", (hexed,), "encoded"),
        c("url-encoded", f"redirect={quoted}", (quoted[30:],), "encoded"),
        c("reversed", f"backwards {GH[::-1]}", (GH[::-1],), "reversed"),
        c("dash-separated", "spelled " + "-".join(STRIPE), ("-".join(STRIPE)[16:],), "separated"),
    ]
    return cases


SECRET_CASES: tuple[SecretCase, ...] = (*_formats(), *_obfuscated())

#: ordinary text a redactor must leave alone
NEAR_MISSES: tuple[str, ...] = (
    "order " + _luhn_broken("4", 16, "broken") + " shipped",  # Luhn-invalid 16 digits
    "invoice " + luhn_number("1", 16, "order"),  # Luhn-valid, but no card issuer starts with 1
    "order id ORD-2024-0001-7731, ref 7000 1234 5678 9012",
    "tracking 1Z999AA10123456784 via UPS",
    "commit 3f2a9c1b8e7d6f5a4b3c2d1e0f9a8b7c6d5e4f3a merged",
    "request 123e4567-e89b-12d3-a456-426614174000 failed",
    "deployed 2024-06-01T12:30:00Z, next window 2024-06-08",
    "call +1 415-555-0100 or +44 20 7946 0958",
    "timestamp 1717245000123 ms, 1717245000123456 us",
    "reset your password at the portal",
    "the password must be at least 12 characters long",
    "Password: use the one from the onboarding email",
    "password = getpass.getpass()",
    "def login(user: str, password: str) -> None:",
    "if not password:\n    raise ValueError('password required')",
    "conn = connect(dsn, password=password)",
    "token = self._token",
    "bypass: true",
    "the sk-learn package (scikit-learn) and the Asia Pacific region",
    "see https://docs.example.com:8443/path/to/page",
    "git@github.com:example/repo.git",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "IBAN DE89 3704 0044 0532 0130 00",
    "ISBN 978-3-16-148410-0",
    "version 1.2.3-beta.4+build.5",
    "os.path.join(base, name).strip()",
    "Use the Basic plan or the Bearer of bad news.",
)
