"""The secret corpus: every format and every obfuscation of one is caught; near-misses and
ordinary text pass unchanged (false positives on the standard library's docstrings bounded)."""

from __future__ import annotations

import pytest

from isokron.guard.normalize import normalised
from isokron.guard.redact import redact_json, redact_secrets
from isokron.ops.bench.redact_corpus import ordinary_docstrings
from isokron.ops.bench.secret_corpus import GH, NEAR_MISSES, SECRET_CASES, luhn_number

#: redactions per MB of the standard library's docstrings (measured: 1, a YAML example
#: "password: sekrit" that is a password in every sense but intent)
MAX_FALSE_POSITIVES_PER_MB = 5


def test_the_corpus_covers_every_reported_format_and_obfuscation():
    assert len(SECRET_CASES) >= 57
    assert len({case.name for case in SECRET_CASES}) == len(SECRET_CASES)
    kinds = {case.kind for case in SECRET_CASES}
    assert kinds == {"format", "split", "invisible", "lookalike", "encoded", "reversed",
                     "separated"}


@pytest.mark.parametrize("case", SECRET_CASES, ids=[case.name for case in SECRET_CASES])
def test_each_secret_case_is_redacted(case):
    out, labels = redact_secrets(case.text)
    assert labels, out
    assert f"[REDACTED:{labels[0]}]" in out
    folded = normalised(out).text
    for leak in case.leaks:
        assert leak not in out, (leak, out)
        assert normalised(leak).text not in folded, (leak, out)


@pytest.mark.parametrize("text", NEAR_MISSES, ids=range(len(NEAR_MISSES)))
def test_near_misses_pass_unchanged(text):
    assert redact_secrets(text) == (text, [])


def test_only_the_secret_is_replaced_and_the_rest_is_kept_verbatim():
    hidden = "\u2062".join([GH[:6], GH[6:]])
    text = f"caf\u00e9 \u00bd \u2014 token {hidden} \u2014 fin"
    out, labels = redact_secrets(text)
    assert out == "caf\u00e9 \u00bd \u2014 token [REDACTED:GITHUB_TOKEN] \u2014 fin"
    assert labels == ["GITHUB_TOKEN"]


def test_a_card_number_needs_luhn_and_an_issuer():
    card = luhn_number("4", 16, "t")
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert redact_secrets(f"pay {card}")[1] == ["CARD_NUMBER"]
    assert redact_secrets(f"pay {broken}")[1] == []
    assert redact_secrets(f"order {luhn_number('9', 16, 't')}")[1] == []


def test_json_keys_are_redacted_too_and_stay_distinct():
    other = GH[:-1] + ("A" if GH[-1] != "A" else "B")
    value = {GH: "a", other: {"nested": [{f"password={GH[4:]}": 1}]},
             "card": int(luhn_number("4", 16, "json")), "n": 12}
    out, labels = redact_json(value)
    text = repr(out)
    assert GH not in text and other not in text and GH[4:] not in text
    assert len(out) == 4  # two keys redacted alike stay two keys
    assert out["card"] == "[REDACTED:CARD_NUMBER]" and out["n"] == 12
    assert labels.count("GITHUB_TOKEN") == 2 and "CARD_NUMBER" in labels


def test_false_positives_on_ordinary_text_are_bounded():
    docs = ordinary_docstrings(1_000_000)
    chars = sum(len(doc) for doc in docs)
    assert chars >= 900_000
    found = sum(len(redact_secrets(doc)[1]) for doc in docs)
    assert found / (chars / 1_000_000) <= MAX_FALSE_POSITIVES_PER_MB


def test_the_module_docstring_names_every_label():
    import isokron.guard.redact as redact
    from isokron.guard.redact_rules import RULES

    doc = redact.__doc__ or ""
    assert [rule.label for rule in RULES if rule.label not in doc] == []
