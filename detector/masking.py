"""Personal data out of sight: what the log view, the API and mails show of payloads and
error messages.

Masked by default: e-mail addresses, phone numbers, card numbers (Luhn-valid digit runs),
and tokens and secrets (bearer/basic credentials, JWTs, ``password=...``-style pairs,
long random-looking strings); fields whose name says they hold such data (``password``,
``email``, ``phone``, ``card_number``...) are hidden whole. Per-operation field rules
(``masking:`` in the detection config) reveal fields that are safe to show, or hide more.
A field is named by its key (``email``) or its dotted path (``customer.email``), globs
allowed; list items share their list's path.

Pure: the same value and rules give the same result, nothing is read or changed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

HIDDEN = "[hidden]"
SECRET = "[secret]"

# Keys whose whole value is personal or secret, compared without case, "-" and "_".
_SENSITIVE_KEYS = {
    "password", "passwd", "pwd", "pass", "secret", "token", "accesstoken", "refreshtoken",
    "apikey", "apitoken", "authorization", "auth", "cookie", "setcookie", "session",
    "sessionid", "privatekey", "clientsecret", "email", "emailaddress", "mail", "phone",
    "phonenumber", "mobile", "tel", "telephone", "card", "cardnumber", "pan", "cvv", "cvc",
    "iban", "ssn", "passport", "inn", "snils",
}  # fmt: skip

_SECRET_WORDS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret"
    r"|authorization|auth|session(?:[_-]?id)?|cookie"
)
_KEY_VALUE = re.compile(rf"(?i)\b((?:\w*[_-])?(?:{_SECRET_WORDS}))(\"?\s*[:=]\s*\"?)([^\s\"',;&]+)")
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# Long runs that look random: 32+ characters of one token alphabet with both letters
# and digits (API keys, hex digests, base64 secrets).
_RUN = re.compile(r"[A-Za-z0-9_+/=-]{32,}")
# Substrings every secret pattern needs: a quick test before the slower patterns run.
_SECRET_HINTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "session",
    "cookie",
    "basic",
    "bearer",
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{6,}\d"  # international: +7 912 345-67-89
    r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{2}-?\d{2}"  # (912) 345-6789, 912 345 67 89
    r"|[78]\d{10}|0\d{9,10})(?![\w])"  # 89123456789, 0612345678
)


class FieldRules(BaseModel):
    """Fields of one operation to show unmasked (``reveal``) or to hide whole (``hide``);
    ``hide`` wins over ``reveal``."""

    model_config = ConfigDict(frozen=True)

    reveal: frozenset[str] = frozenset()
    hide: frozenset[str] = frozenset()

    @classmethod
    def combine(cls, rules: Iterable[FieldRules]) -> FieldRules:
        reveal: set[str] = set()
        hide: set[str] = set()
        for rule in rules:
            reveal |= rule.reveal
            hide |= rule.hide
        return cls(reveal=frozenset(reveal), hide=frozenset(hide))


NO_RULES = FieldRules()


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[phone]" if 8 <= digits <= 15 else match.group(0)


def _random(match: re.Match[str]) -> str:
    run = match.group(0)
    looks_random = any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
    return SECRET if looks_random else run


def mask_text(text: str) -> str:
    """``text`` with e-mail addresses, phone and card numbers, and secrets replaced.

    Each pattern runs only where a cheap test says it could match: most strings in a
    payload are short words and ids, and a page of the log masks thousands of them."""
    if "eyJ" in text:
        text = _JWT.sub(SECRET, text)
    lower = text.lower()
    if any(hint in lower for hint in _SECRET_HINTS):
        text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {SECRET}", text)
        text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{SECRET}", text)
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    if len(text) >= 32:
        text = _RUN.sub(_random, text)
    if sum(map(str.isdigit, text)) >= 8:
        text = _CARD.sub(_card, text)
        text = _PHONE.sub(_phone, text)
    return text


def _named(patterns: frozenset[str], key: str, path: str) -> bool:
    return bool(patterns) and any(
        fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(key, p) for p in patterns
    )


@lru_cache(maxsize=4096)  # Payloads repeat the same few keys.
def _sensitive(key: str) -> bool:
    return key.lower().replace("_", "").replace("-", "") in _SENSITIVE_KEYS


def mask_field(key: str, value: Any, rules: FieldRules = NO_RULES, path: str = "") -> Any:
    """One named value (a payload field, or ``error_message``) as it may be shown."""
    path = f"{path}.{key}" if path else key
    if _named(rules.hide, key, path):
        return HIDDEN
    if _named(rules.reveal, key, path):
        return value
    if _sensitive(key) and value not in (None, ""):
        return HIDDEN
    return mask(value, rules, path)


def mask(value: Any, rules: FieldRules = NO_RULES, path: str = "") -> Any:
    """A payload as it may be shown: the same shape, personal data and secrets masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_field(str(k), v, rules, path) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, rules, path) for v in value]
    return value
