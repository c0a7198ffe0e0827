"""The project's exception tree: one root, so callers can catch everything we raise."""


class DetectorError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(DetectorError):
    """A setting or configuration file is wrong; the message names the field and the fix."""


class DecodeError(DetectorError):
    """An event could not be decoded or validated; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotificationError(DetectorError):
    """Sending a notification failed; ``retryable`` says whether trying again can help."""

    def __init__(self, reason: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
