"""Masking of personal data: e-mails, phones, cards and secrets never survive, whatever
surrounds them; the shape of a payload is kept; field rules reveal and hide."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.masking import HIDDEN, FieldRules, mask, mask_field, mask_text
from detector.opconfig import parse_detection_config
from detector.oplog import LogEntry

WORDS = st.text(alphabet=string.ascii_letters + " .,!", max_size=30)
EMAILS = st.from_regex(
    r"[a-z][a-z0-9._+-]{0,15}@[a-z][a-z0-9-]{0,10}\.(com|ru|co\.uk)", fullmatch=True
)
PHONES = st.sampled_from(
    ["+7 912 345-67-89", "+79123456789", "89123456789", "(912) 345-6789", "+44 20 7946 0958"]
)
SECRETS = st.one_of(
    st.from_regex(r"Bearer [A-Za-z0-9_-]{12,40}", fullmatch=True),
    st.from_regex(
        r"eyJ[A-Za-z0-9_-]{5,20}\.[A-Za-z0-9_-]{5,20}\.[A-Za-z0-9_-]{5,20}", fullmatch=True
    ),
    st.from_regex(r"(password|api_key|token)=[A-Za-z0-9]{6,20}", fullmatch=True),
    st.from_regex(r"[a-f]{4}[0-9][a-f0-9]{40}", fullmatch=True),
)


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


CARDS = st.from_regex(r"4[0-9]{14}", fullmatch=True).map(luhn_complete)


def _secret_part(secret: str) -> str:
    """What must not survive: the credential, not the word introducing it."""
    return secret.split("=", 1)[-1].split(" ", 1)[-1]


@given(before=WORDS, after=WORDS, email=EMAILS, phone=PHONES, card=CARDS, secret=SECRETS)
def test_personal_data_never_survives_in_text(
    before: str, after: str, email: str, phone: str, card: str, secret: str
) -> None:
    for value in (email, phone, card, secret):
        shown = mask_text(f"{before} {value} {after}")
        assert _secret_part(value) not in shown
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert spaced not in mask_text(f"card {spaced} declined")


@given(text=st.text(max_size=80))
def test_masking_is_idempotent(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


@given(text=st.from_regex(r"[A-Za-z ,.]{0,60}", fullmatch=True))
def test_plain_words_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "timeout after 30000 ms at 2026-11-27 09:01:05",
        "HTTP 503 from crm.example.com, order 12345 retried 3 times",
        "invalid_email",
    ],
)
def test_ordinary_error_text_stays_readable(text: str) -> None:
    assert mask_text(text) == text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | WORDS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "name", "items", "note"]), inner, max_size=3)
    ),
    max_leaves=10,
)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


@given(payload=JSON)
def test_a_payload_keeps_its_shape(payload: Any) -> None:
    assert _shape(mask(payload)) == _shape(payload)


@given(email=EMAILS, card=CARDS, payload=JSON)
def test_sensitive_fields_are_hidden_and_rules_reveal_or_hide(
    email: str, card: str, payload: Any
) -> None:
    data = {"customer": {"email": email, "note": f"mail me at {email}"}, "card": card, "x": payload}
    shown = mask(data)
    assert shown["customer"]["email"] == HIDDEN
    assert email not in str(shown)
    assert card not in str(shown)
    revealed = mask(data, FieldRules(reveal=frozenset({"customer.email"})))
    assert revealed["customer"]["email"] == email
    assert email not in revealed["customer"]["note"]
    hidden = mask(data, FieldRules(reveal=frozenset({"x"}), hide=frozenset({"x", "customer.*"})))
    assert hidden["x"] == HIDDEN
    assert hidden["customer"] == {"email": HIDDEN, "note": HIDDEN}


def test_error_message_follows_its_rule() -> None:
    message = "no @ in anna@example.com"
    assert mask_field("error_message", message) == "no @ in [email]"
    reveal = FieldRules(reveal=frozenset({"error_message"}))
    assert mask_field("error_message", message, reveal) == message


def test_rules_come_from_the_detection_config_per_operation() -> None:
    config = parse_detection_config(
        {
            "masking": [
                {"integration": "crm", "reveal": ["order_email"]},
                {"operation": "Crm.*", "hide": ["customer.*"]},
                {"operation": "Website.*", "reveal": ["email"]},
            ]
        },
        "test.yaml",
    )
    rules = config.fields_for("Crm.Push", "crm")
    assert rules == FieldRules(reveal=frozenset({"order_email"}), hide=frozenset({"customer.*"}))
    assert config.fields_for("Erp.Pull", "erp") == FieldRules()
    entry = LogEntry(
        id="e",
        kind="call",
        operation="Crm.Push",
        timestamp=0,
        status="error",
        error_message="rejected anna@example.com",
        source_record="anna@example.com",
        payload={"order_email": "o@example.com", "customer": {"id": 1}, "phone": "+79123456789"},
    )
    shown = entry.masked(rules)
    assert shown.error_message == "rejected [email]"
    assert shown.source_record == "[email]"
    assert shown.payload == {
        "order_email": "o@example.com",
        "customer": {"id": HIDDEN},
        "phone": HIDDEN,
    }


def test_a_bad_masking_entry_names_itself() -> None:
    from detector.errors import ConfigError

    with pytest.raises(ConfigError, match=r"masking\[0\]\.reveal"):
        parse_detection_config({"masking": [{"reveal": "email"}]}, "test.yaml")


def _unguarded(text: str) -> str:
    """Every pattern applied everywhere: what the quick pre-tests must never change."""
    from detector import masking as m

    text = m._JWT.sub(m.SECRET, text)
    text = m._CREDENTIAL.sub(lambda x: f"{x.group(1)} {m.SECRET}", text)
    text = m._KEY_VALUE.sub(lambda x: f"{x.group(1)}{x.group(2)}{m.SECRET}", text)
    text = m._EMAIL.sub("[email]", text)
    text = m._RUN.sub(m._random, text)
    text = m._CARD.sub(m._card, text)
    return m._PHONE.sub(m._phone, text)


@given(
    parts=st.lists(
        st.one_of(WORDS, EMAILS, PHONES, CARDS, SECRETS, st.text(max_size=20)), max_size=6
    )
)
def test_the_quick_pre_tests_skip_only_patterns_that_cannot_match(parts: list[str]) -> None:
    text = " ".join(parts)
    assert mask_text(text) == _unguarded(text)
