"""Signed log links: only the holder of the secret can make one that opens a log."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector import links

SECRET = b"a-test-secret-of-32-bytes-length"
NOW = 1_800_000_000.0


def _params(link: links.LogLink, secret: bytes = SECRET) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(links.url("https://d.example", secret, link)).query))


def _link(operation: str = "orders.sync") -> links.LogLink:
    return links.LinkRule(ttl_seconds=7 * 86400).link(operation, NOW, NOW)


def test_a_signed_link_verifies_to_its_own_range() -> None:
    link = _link()
    assert links.verify(SECRET, "orders.sync", _params(link), NOW + 60) == link


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(links.LinkError, match="not valid"):
        links.verify(SECRET, "orders.sync", _params(_link(), b"x" * 32), NOW)


@pytest.mark.parametrize("field", ["from", "to", "exp"])
def test_changing_any_signed_field_is_refused(field: str) -> None:
    params = _params(_link())
    params[field] = str(int(params[field]) - 86400)
    with pytest.raises(links.LinkError, match="not valid"):
        links.verify(SECRET, "orders.sync", params, NOW)


def test_a_link_for_one_operation_does_not_open_another() -> None:
    with pytest.raises(links.LinkError, match="another log"):
        links.verify(SECRET, "invoices.push", _params(_link("orders.sync")), NOW)


@pytest.mark.parametrize("missing", ["sig", "from", "to", "exp"])
def test_an_unsigned_or_incomplete_link_is_refused(missing: str) -> None:
    params = _params(_link())
    del params[missing]
    with pytest.raises(links.LinkError, match="not signed"):
        links.verify(SECRET, "orders.sync", params, NOW)


def test_a_link_stops_working_after_it_expires() -> None:
    link = _link()
    assert links.verify(SECRET, "orders.sync", _params(link), link.expires) == link
    with pytest.raises(links.LinkError, match="expired"):
        links.verify(SECRET, "orders.sync", _params(link), link.expires + 1)


def test_operation_names_are_escaped_in_the_path() -> None:
    url = links.url("https://d.example/", SECRET, _link("a/b?c"))
    assert urlsplit(url).path == "/operations/a%2Fb%3Fc/log"


@given(
    at=st.integers(0, 2**33),
    lag=st.integers(0, 10**7),
    before=st.integers(0, 10**6),
    after=st.integers(0, 10**6),
    ttl=st.integers(60, 10**7),
)
def test_the_window_holds_the_lead_up_the_change_and_now(
    at: int, lag: int, before: int, after: int, ttl: int
) -> None:
    """One rule for status changes, mails and the dashboard: the link opens the log from
    ``before`` ahead of the change to ``after`` past now, and expires ``ttl`` after now."""
    rule = links.LinkRule(ttl_seconds=ttl, before_seconds=before, after_seconds=after)
    link = rule.link("orders.sync", at, at + lag)
    assert link.start == max(0, at - before)
    assert link.start <= at <= at + lag <= link.end == at + lag + after
    assert link.expires == at + lag + ttl
