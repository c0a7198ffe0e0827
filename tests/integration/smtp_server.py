"""An SMTP server in the test process (aiosmtpd) that keeps what it receives and can
refuse chosen recipients, temporarily or for good."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """The aiosmtpd handler: ``refuse`` maps an address to the reply for its RCPT."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        # A slow server: one message at a time, each taking ``delay`` seconds.
        self.delay = delay
        self.lock = asyncio.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        async with self.lock:
            await asyncio.sleep(self.delay)
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def start_smtp(inbox: Inbox, port: int, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller
