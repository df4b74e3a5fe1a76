"""Serving stored documents: each synced record's Propexo object was rendered once when it was
written (`db/synced.py`), so a list page is the concatenation of up to 250 stored strings instead
of 250 objects built, converted and encoded per request; `last_seen` is spliced in here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from propbridge.db.base import isoformat_z


def serve_document(document: str, last_seen: datetime | str | None, stamps: dict[Any, str]) -> str:
    """A stored document with its `last_seen` spliced in. `last_seen` is a datetime, or the text
    SQLite stores (naive UTC); `stamps` memoises the formatting, since a sync gives all the
    records it saw the same stamp."""
    stamp = stamps.get(last_seen)
    if stamp is None:
        moment = datetime.fromisoformat(last_seen) if isinstance(last_seen, str) else last_seen
        stamp = stamps[last_seen] = orjson.dumps(isoformat_z(moment)).decode()
    if document == "{}":
        return f'{{"last_seen":{stamp}}}'
    return f'{document[:-1]},"last_seen":{stamp}}}'


def envelope(meta: dict[str, Any], documents: Sequence[str]) -> bytes:
    """Propexo's list envelope around serialised results."""
    return b"".join(
        (b'{"meta":', orjson.dumps(meta), b',"results":[', ",".join(documents).encode(), b"]}")
    )
