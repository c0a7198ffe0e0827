"""A batch of calls submitted over HTTP (``POST /api/calls``): split, validated with the
event contract (``detector.events.decode``, the same as Kafka ingest), and turned into
messages for ``operation-calls``. Pure: bytes and the time in, messages and verdicts out.

The body is one JSON object, a JSON array of objects, or NDJSON (one object a line).
Successes of one request are written as pre-aggregated records (per operation,
integration and second, ``detector.reporting``): the worker's cost is per message, and
the operation log keeps only failures. Every other record is written as it came: failures
with their evidence, and anything with an ``event_id``, whose lifecycle the worker follows.
Rejected records are kept with their bytes and reason, for the shell to dead-letter.
"""

from __future__ import annotations

import hmac
import re
import sys
from dataclasses import dataclass, field
from hashlib import sha256

import orjson

from detector.errors import ConfigError, DecodeError
from detector.events import LIMITS, Limits, decode
from detector.reporting import Outgoing, ReportBuffer

MAX_LISTED = 100  # Rejected items described in a response; the rest are only counted.
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_TOKEN = 16


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # Position in the array, or line number - 1 in NDJSON.
    reason: str
    detail: str


@dataclass(slots=True)
class Submission:
    messages: list[Outgoing] = field(default_factory=list)
    accepted: int = 0  # Records.
    calls: int = 0  # Calls the accepted records stand for.
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    listed: list[Rejected] = field(default_factory=list)
    # Every rejected record: (index, its bytes, why), to be dead-lettered.
    refused: list[tuple[int, bytes, DecodeError]] = field(default_factory=list)

    def reject(self, index: int, raw: bytes, error: DecodeError) -> None:
        self.rejected += 1
        self.refused.append((index, raw, error))
        self.reasons[error.reason] = self.reasons.get(error.reason, 0) + 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(Rejected(index, error.reason, error.detail[:300]))

    def answer(self) -> dict[str, object]:
        """The response body: counts, and why the first ``MAX_LISTED`` items were refused."""
        return {
            "accepted": self.accepted,
            "calls": self.calls,
            "rejected": self.rejected,
            "reasons": self.reasons,
            "errors": [
                {"index": r.index, "reason": r.reason, "detail": r.detail} for r in self.listed
            ],
            "errors_truncated": self.rejected > len(self.listed),
        }


def items(body: bytes) -> list[tuple[int, bytes]]:
    """(index, bytes of one record) for a JSON object, a JSON array or NDJSON.

    A body that is not one JSON document is read as NDJSON; blank lines are skipped but
    keep the numbering, so an index is the line number - 1.
    """
    try:
        whole = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [(i, line) for i, line in enumerate(body.split(b"\n")) if line.strip()]
    if isinstance(whole, list):
        return [(i, orjson.dumps(item)) for i, item in enumerate(whole)]
    return [(0, body)]


def submit(body: bytes, now: float, limits: Limits = LIMITS) -> Submission:
    """Validate every record; successes grouped, failures passed on as their own bytes."""
    out = Submission()
    records = items(body)
    # Bounds as large as the request: a submission is never partly dropped.
    buffer = ReportBuffer(max_groups=max(1, len(records)), max_bytes=sys.maxsize)
    for index, raw in records:
        try:
            call = decode(raw, now, limits)
        except DecodeError as exc:
            out.reject(index, raw, exc)
            continue
        calls = call.tally()[0]
        timestamp = call.timestamp if call.timestamp is not None else now
        out.accepted += 1
        out.calls += calls
        if call.status == "success" and call.count is None and call.event_id is None:
            buffer.add_success(call.operation, call.integration, timestamp, calls)
        else:
            buffer.add_record(Outgoing(call.operation.encode(), raw.strip(), calls))
    out.messages = buffer.drain(now, limit=len(records) + 1, final=True)
    return out


def parse_tokens(text: str, source: str) -> dict[bytes, str]:
    """``name=token`` pairs (comma or newline separated, ``#`` comments) -> digest of the
    token -> producer name. A ``ConfigError`` naming ``source`` for a bad entry."""
    tokens: dict[bytes, str] = {}
    for number, entry in enumerate(re.split(r"[,\n]", text), start=1):
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        name, sep, token = (part.strip() for part in entry.partition("="))
        where = f"{source}: entry {number} ({name or '?'})"
        if not sep or not _NAME.match(name):
            raise ConfigError(f"{where}: expected name=token, name of letters, digits, . _ -")
        if len(token) < MIN_TOKEN:
            raise ConfigError(f"{where}: the token must be at least {MIN_TOKEN} characters")
        digest = sha256(token.encode()).digest()
        if digest in tokens:
            raise ConfigError(f"{where}: the same token is given to {tokens[digest]!r}")
        if name in tokens.values():
            raise ConfigError(f"{where}: the producer name is given twice")
        tokens[digest] = name
    return tokens


def producer_of(tokens: dict[bytes, str], presented: str) -> str | None:
    """The producer whose token this is, comparing in constant time against every one."""
    digest = sha256(presented.encode()).digest()
    found = None
    for known, name in tokens.items():
        if hmac.compare_digest(known, digest):
            found = name
    return found
