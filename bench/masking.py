"""Cost of masking what the log view and API show, next to the JSON encoding the API
does anyway (the reference, measured in the same run).

    .venv/bin/python bench/masking.py [--entries 2000] [--repeat 3]

Entries look like the failed calls of a web form: a payload of ~1.3 kB with an e-mail,
a phone number, free text and nested fields, and an error message quoting the address.
Prints entries per second and MB per second for masking and for orjson encoding.
"""

from __future__ import annotations

import argparse
import time

import orjson

from detector.masking import FieldRules
from detector.oplog import LogEntry


def entries(n: int) -> list[LogEntry]:
    return [
        LogEntry(
            id=f"e{i}",
            kind="call",
            operation="Website.Subscribe",
            integration="website",
            timestamp=1_790_000_000 + i,
            status="error",
            error_message=f"no mailbox for customer{i}@example.com (smtp 550)",
            source_record=f"form-{i}",
            payload={
                "email": f"customer{i}@example.com",
                "phone": "+7 912 345-67-89",
                "name": "Anna Customer",
                "consent": True,
                "utm": {"source": "newsletter", "campaign": f"autumn-{i % 7}"},
                "comment": "Please call me at 8 912 345 67 89 after six, thanks! " * 8,
                "items": [{"sku": f"SKU-{j}", "qty": j, "price": 1990 + j} for j in range(12)],
                "session": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
            },
            payload_state="present",
        )
        for i in range(n)
    ]


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    log = entries(args.entries)
    size = sum(len(orjson.dumps(e.model_dump(mode="json"))) for e in log) / 1e6
    rules = FieldRules()
    masking, encoding = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        masked = [e.masked(rules) for e in log]
        masking.append(time.perf_counter() - started)
        started = time.perf_counter()
        for e in masked:
            orjson.dumps(e.model_dump(mode="json"))
        encoding.append(time.perf_counter() - started)
    print(f"{args.entries} entries, {size:.1f} MB of JSON; best of {args.repeat}")
    for name, seconds in (("mask", best(masking)), ("encode (reference)", best(encoding))):
        rate = args.entries / seconds
        print(f"  {name:<20} {rate:>10,.0f} entries/s  {size / seconds:>8.1f} MB/s")
    print(f"  one 50-entry page: mask {best(masking) / args.entries * 50 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
