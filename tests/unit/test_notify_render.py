"""The mail: subject, both bodies, the link, escaping, and the hint at a likely cause."""

from __future__ import annotations

import pytest

from detector.notify.grouping import Notification
from detector.notify.render import hint, render, subject
from detector.status import Status
from tests.unit.notify_helpers import T0, change

LINK = "https://health.example/operations/Payments.Charge/log?from=1&to=2&exp=3&sig=ab&x=<y>"


def one(**kwargs: object) -> Notification:
    return Notification("k", "mailto:ops@example.com", (change(**kwargs),), (), 3600)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("codes", "cause"),
    [
        ({"401": 90, "500": 2}, "credentials"),
        ({"AUTH_FAILED": 12}, "credentials"),
        ({"timeout": 30}, "destination"),
        ({"503": 8, "400": 1}, "destination"),
        ({"VALIDATION_ERROR": 5}, "data or format"),
        ({"E_STRANGE": 5}, None),
        ({}, None),
    ],
)
def test_hint_follows_the_dominant_error_code(codes: dict[str, int], cause: str | None) -> None:
    advice = hint(change(observed={"error_codes": codes}))
    if cause is None:
        assert advice is None
    else:
        assert advice is not None
        assert cause in advice


def test_subject_names_operation_and_new_status() -> None:
    assert subject(one()) == "[many problems] Payments.Charge (payments)"
    recovered = one(previous=Status.MANY_PROBLEMS, status=Status.OK)
    assert subject(recovered) == "[ok] Payments.Charge (payments)"


def test_subject_of_a_group_names_its_operations() -> None:
    changes = tuple(change(op, at=T0 + i) for i, op in enumerate(["A.x", "B.y"]))
    text = subject(Notification("k", "r", changes, (), 3600))
    assert "A.x many problems" in text
    assert "B.y many problems" in text


def test_bodies_carry_what_where_since_figures_reason_and_link() -> None:
    mail = render(
        one(observed={"calls": 120, "error_codes": {"401": 120}}, expected={"error_ratio": 0.01}),
        {"Payments.Charge": LINK},
    )
    for body in (mail.text, mail.html):
        for words in ("Payments.Charge", "many problems", "2023-11-14 22:13 UTC", "42% of calls"):
            assert words in body
        assert "calls 120" in body
        assert "error ratio 0.01" in body
        assert "credentials" in body
    assert LINK in mail.text
    assert 'href="https://health.example/operations/Payments.Charge/log?from=1&amp;' in mail.html


def test_html_escapes_everything_from_events() -> None:
    evil = "<script>alert(1)</script>"
    mail = render(one(operation=evil, reason=evil, observed={"error_codes": {evil: 1}}), {})
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert evil in mail.text


def test_personal_data_in_error_codes_and_reasons_is_masked_in_both_bodies() -> None:
    note = one(
        reason="errors mostly 'no user anna@example.com'",
        observed={"error_codes": {"card 4111 1111 1111 1111 declined": 7}},
    )
    mail = render(note, {"Payments.Charge": LINK})
    for body in (mail.text, mail.html):
        assert "anna@example.com" not in body
        assert "4111 1111 1111 1111" not in body
        assert "[email]" in body
        assert "[card]" in body
