"""Table values are plain JSON-able structures serialised with orjson (fast, compact)."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

NAME = "orjson"


class OrjsonCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


codecs.register(NAME, OrjsonCodec())
