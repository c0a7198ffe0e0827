"""Per-recipient notification state (``detector.notify.grouping.RecipientState``): the
``notify-recipients`` table, keyed by recipient like the topic that feeds it, changelogged
so a restarted worker knows what it already sent and what is still waiting."""

from __future__ import annotations

from typing import Any

import faust

from tables import codec

NAME = "notify-recipients"


def declare(app: Any, partitions: int) -> Any:
    return app.Table(
        NAME,
        default=None,
        partitions=partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer=codec.NAME),
        help="Per-recipient pending changes, what was told and when, retries.",
    )
