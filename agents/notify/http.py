"""One JSON POST with the notifiers' retry rules: network trouble, 408, 425, 429 and 5xx
are retryable, other 4xx not (the same body would be refused again)."""

from __future__ import annotations

from typing import Any

import aiohttp

from detector.errors import NotificationError

RETRYABLE_STATUS = frozenset({408, 425, 429})


async def post_json(
    url: str, body: Any, limit: aiohttp.ClientTimeout, headers: dict[str, str] | None = None
) -> None:
    """POST ``body``; a ``NotificationError`` unless the answer is 2xx."""
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.post(url, json=body, headers=headers) as response,
        ):
            status = response.status
            text = (await response.text())[:200] if status >= 300 else ""
    except (TimeoutError, aiohttp.ClientError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else "refused"
        raise NotificationError(reason, f"{type(exc).__name__}: {exc}", retryable=True) from None
    if status >= 300:
        retryable = status >= 500 or status in RETRYABLE_STATUS
        detail = f"HTTP {status}" + (f": {text.strip()}" if text.strip() else "")
        raise NotificationError("http", detail, retryable=retryable)
