"""Table values are plain JSON-able structures serialised with orjson (fast, compact)."""

from __future__ import annotations

from typing import Any

import faust
import orjson
from faust.serializers import codecs

NAME = "orjson"


class OrjsonCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


codecs.register(NAME, OrjsonCodec())


def keyed_table(app: Any, name: str, partitions: int, help: str, *, is_global: bool = False) -> Any:
    """A changelogged table keyed by a plain string (an operation or a recipient, like the
    topic that feeds it) holding orjson values."""
    factory = app.GlobalTable if is_global else app.Table
    return factory(
        name,
        default=None,
        partitions=partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer=NAME),
        help=help,
    )
