"""Faust codec for track-table values: frozen dataclasses as orjson bytes.

Table values are immutable; a change is a new value assigned to the key, which is what makes
Faust write it to the changelog.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from mda.track import VesselTrack

CODEC_NAME = "mda_track"


class TrackCodec(codecs.Codec):  # type: ignore[misc]
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)  # orjson writes (nested) dataclasses natively

    def _loads(self, s: bytes) -> Any:
        return VesselTrack.from_dict(orjson.loads(s))


def register() -> None:
    codecs.register(CODEC_NAME, TrackCodec())
