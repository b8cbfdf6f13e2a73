"""Pin the redactor: every listed secret format is caught; ordinary text is never touched."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import uuid

import pytest

from isokron.guard.redact import redact_json, redact_secrets

_B64 = "QWxhZGRpbjpvcGVuIHNlc2FtZQ"  # "Aladdin:open sesame"
_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"

#: (label, text containing a secret, the secret part that must disappear)
SAMPLES: list[tuple[str, str, str]] = [
    ("SLACK_TOKEN", "bot token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
     "xoxb-123456789012"),
    ("SLACK_TOKEN", "user token xoxp-123456789012-123456789012-123456789012-abcdef0123456789",
     "xoxp-123456789012"),
    ("SLACK_WEBHOOK", "post to https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/"
                      "AbCdEfGhIjKlMnOpQrStUvWx now", "hooks.slack.com/services/T0ABCDEF1"),
    ("STRIPE_KEY", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("STRIPE_KEY", "restricted rk_live_51H8abcDEFghiJKLmnoPQRst", "51H8abcDEFghiJKLmnoPQRst"),
    ("GOOGLE_API_KEY", "maps key AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI ok",
     "SyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"),
    ("JWT", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N"),
    ("PRIVATE_KEY", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
                    "lQOYBF0000000000000000\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
     "lQOYBF0000000000000000"),
    ("PRIVATE_KEY", f"key:\n-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}\n{_PEM_BODY}", _PEM_BODY),
    ("PRIVATE_KEY", f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE "
                    "KEY-----", _PEM_BODY),
    ("SECRET_FIELD", "db:\n  password: hunter2\n  host: db.internal", "hunter2"),
    ("SECRET_FIELD", "api_key: 9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ("SECRET_FIELD", '{"api_key": "abc123xyz", "region": "eu"}', "abc123xyz"),
    ("SECRET_FIELD", "{'password': 'swordfish'}", "swordfish"),
    ("SECRET_ASSIGNMENT", "PASSWORD=hunter2", "hunter2"),
    ("SECRET_ASSIGNMENT", "export DB_PASS=s3cr3t!", "s3cr3t!"),
    ("SECRET_ASSIGNMENT", "AWS_SECRET_KEY=abcdef123456", "abcdef123456"),
    ("SECRET_ASSIGNMENT", "STRIPE_SECRET_KEY=whsec_abc", "whsec_abc"),
    ("SECRET_ASSIGNMENT", "MINIO_ACCESS_KEY=minioadmin9", "minioadmin9"),
    ("SECRET_ASSIGNMENT", "OPENAI_API_KEY='abc def'", "abc def"),
    ("SECRET_ASSIGNMENT", 'my_token = "tok-abc-123"', "tok-abc-123"),
    ("URL_QUERY_SECRET", "GET https://maps.example.com/api?key=AbC123dEf456&q=x",
     "AbC123dEf456"),
    ("URL_QUERY_SECRET", "https://x.example.com/cb?state=1&access_token=ya29.a0AfH6",
     "ya29.a0AfH6"),
    ("BASIC_AUTH", f"Authorization: Basic {_B64}", _B64),
    ("BEARER_TOKEN", "Authorization: Bearer abcdef0123456789", "abcdef0123456789"),
    ("SK_KEY", "key sk-\u200bproj\u200bAbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("SK_KEY", "sk-live-4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("NPM_TOKEN", "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789",
     "npm_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("HUGGINGFACE_TOKEN", "HF hf_abcdefghijklmnopqrstuvwxyzABCDEF", "hf_abcdefghijklmnopq"),
    ("SENDGRID_KEY", "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
     "abcdefghijklmnopqrstuv"),
    ("TWILIO_KEY", "twilio SK0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789"),
    ("AWS_SECRET_ACCESS_KEY", f"id AKIAIOSFODNN7EXAMPLE secret {_AWS_SECRET}", _AWS_SECRET),
    ("AWS_ACCESS_KEY_ID", "id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("DATABASE_URL_PASSWORD", "postgres://:pw0rd@db.internal/app", "pw0rd"),
    ("DATABASE_URL_PASSWORD", "postgresql://app:hunter2@db/app", "hunter2"),
    ("GITHUB_TOKEN", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij"),
    ("GITLAB_TOKEN", "glpat-AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    ("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + "A1b2C3d4" * 8, "A1b2C3d4A1b2C3d4"),
    ("TELEGRAM_BOT_TOKEN", "bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 ok",
     "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"),
    ("AZURE_STORAGE_KEY", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
                          "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq==;",
     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"),
    ("MAILCHIMP_KEY", "mc 0123456789abcdef0123456789abcdef-us14", "0123456789abcdef0123456789"),
]


@pytest.mark.parametrize(("label", "text", "secret"), SAMPLES,
                         ids=[f"{i}-{s[0]}" for i, s in enumerate(SAMPLES)])
def test_each_secret_format_is_redacted(label, text, secret):
    """The secret part is gone, the label says which rule caught it."""
    redacted, labels = redact_secrets(text)
    assert secret not in redacted.replace("\u200b", ""), redacted
    assert label in labels, (labels, redacted)
    assert f"[REDACTED:{label}]" in redacted


def test_json_values_are_redacted_recursively_and_by_key():
    """Strings anywhere in a JSON value; a secret-named key's value wholesale."""
    value = {"note": "use sk-live-4eC39HqLyjWDarjtT1zdp7dc", "nested": [{"password": "x1"}],
             "count": 3, "ok": True, "none": None}
    redacted, labels = redact_json(value)
    assert redacted == {"note": "use [REDACTED:SK_KEY]",
                        "nested": [{"password": "[REDACTED:SECRET_FIELD]"}],
                        "count": 3, "ok": True, "none": None}
    assert sorted(labels) == ["SECRET_FIELD", "SK_KEY"]


def _ordinary_lines() -> list[str]:
    lines: list[str] = []
    for name in ("json", "textwrap", "argparse", "logging", "smtplib", "ftplib", "getpass",
                 "hmac", "secrets", "ssl", "base64", "configparser", "netrc", "imaplib",
                 "urllib.request", "http.cookiejar", "email.utils", "sqlite3", "tarfile"):
        module = importlib.import_module(name)
        for obj in [module, *(v for _, v in inspect.getmembers(module)
                              if inspect.isclass(v) or inspect.isfunction(v))]:
            lines += [line for line in (inspect.getdoc(obj) or "").splitlines() if line.strip()]
        lines += [line for line in inspect.getsource(module).splitlines() if line.strip()][:300]
    lines += [str(uuid.UUID(int=n * 7919 + 1)) for n in range(200)]
    lines += [hashlib.sha1(str(n).encode()).hexdigest() for n in range(200)]
    lines += [hashlib.sha256(str(n).encode()).hexdigest() for n in range(200)]
    return lines


def test_ordinary_prose_code_ids_and_hashes_pass_unchanged():
    """Standard-library docstrings and source, UUIDs, git SHAs, hex digests: zero redactions."""
    lines = _ordinary_lines()
    assert len(lines) >= 1000
    touched = [line for line in lines if redact_secrets(line) != (line, [])]
    assert touched == []


def test_text_without_a_secret_keeps_its_zero_width_characters():
    """Only a secret's own text is normalised: emoji joiners elsewhere are kept."""
    family = "family: \U0001f468\u200d\U0001f469\u200d\U0001f467 and a\u200bb"
    assert redact_secrets(family) == (family, [])


def test_short_clean_texts_are_scanned_once_and_secrets_every_time(monkeypatch):
    """The clean-text cache: a short clean string is scanned once; a string with a secret is
    never remembered (scanned and redacted each time); a long one is not cached."""
    from isokron.guard import redact

    scanned: list[str] = []
    real = redact._find

    def counting(text: str):
        scanned.append(text)
        return real(text)

    monkeypatch.setattr(redact, "_find", counting)
    clean = "tool-call-name-for-the-cache-test"
    secret = "ghp_" + "a1B2" * 9
    long = "plain words " * 20
    for _ in range(3):
        assert redact.redact_secrets(clean) == (clean, [])
        text, labels = redact.redact_secrets(secret)
        assert secret not in text and labels
        assert redact.redact_secrets(long) == (long, [])
    assert scanned.count(clean) == 1
    assert scanned.count(secret) == 3 and scanned.count(long) == 3
    assert secret not in redact._CLEAN


def test_a_clean_key_cached_earlier_does_not_overwrite_a_redacted_one():
    """A key found clean before skips the scan, not the collision check: a literal
    "[REDACTED:…]" key after a secret key redacted to the same text stays a key of its
    own, whether or not it was seen before (nothing lost)."""
    token = "ghp_" + "a1B2" * 9
    literal = "[REDACTED:GITHUB_TOKEN]"
    for _ in range(2):  # the second time the literal key is in the clean-text cache
        out, labels = redact_json({token: 1, literal: 2})
        assert sorted(out.values()) == [1, 2] and labels == ["GITHUB_TOKEN"]
        assert token not in str(out)


def test_a_short_text_with_a_vendor_prefix_is_still_joined_and_reversed():
    """The one-alternation pre-check for short texts finds the prefixes the per-pattern
    scan finds: a token broken by a space and a reversed one are still caught."""
    token = "ghp_" + "a1B2" * 9
    broken = f"my token is {token[:20]} {token[20:]} ok"
    assert token[:20] not in redact_secrets(broken)[0]
    assert token[::-1] not in redact_secrets(f"reversed: {token[::-1]}")[0]
