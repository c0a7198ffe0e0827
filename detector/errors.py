"""The project's exception tree: one root, so callers can catch everything we raise."""

from __future__ import annotations

from pydantic import ValidationError


class DetectorError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(DetectorError):
    """A setting or configuration file is wrong; the message names the field and the fix."""


def config_error(exc: ValidationError, source: str, lists: tuple[str, ...]) -> ConfigError:
    """A file's validation errors, one line each, naming the entry of a top-level list
    (``rules[2].schedule``) or the field."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        if loc[:1] and loc[0] in lists and len(loc) > 1:
            where = f"{loc[0]}[{loc[1]}]" + "".join(f".{p}" for p in loc[2:])
        else:
            where = ".".join(loc) or "file"
        problems.append(f"{source}: {where}: {err['msg']}")
    return ConfigError("\n".join(problems))


class DecodeError(DetectorError):
    """An event could not be decoded or validated; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, str]]:
        """Picklable (a replay's reader process sends its invalid lines' errors)."""
        return DecodeError, (self.reason, self.detail)


class NotificationError(DetectorError):
    """Sending a notification failed; ``retryable`` says whether trying again can help."""

    def __init__(self, reason: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
