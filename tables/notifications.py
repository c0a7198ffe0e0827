"""Per-recipient notification state (``detector.notify.grouping.RecipientState``): the
``notify-recipients`` table, keyed by recipient like the topic that feeds it, changelogged
so a restarted worker knows what it already sent and what is still waiting."""

from __future__ import annotations

from typing import Any

from tables import codec

NAME = "notify-recipients"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app, NAME, partitions, "Per-recipient pending changes, what was told and when, retries."
    )
