"""Signed log links: only the holder of the secret can make one that opens a log."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from detector import links

SECRET = b"a-test-secret-of-32-bytes-length"
NOW = 1_800_000_000.0


def _params(link: links.LogLink, secret: bytes = SECRET) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(links.url("https://d.example", secret, link)).query))


def _link(operation: str = "orders.sync") -> links.LogLink:
    return links.incident_link(
        SECRET, operation, NOW, NOW, ttl_seconds=7 * 86400, around_seconds=3600
    )


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
