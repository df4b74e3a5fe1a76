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


# `serve_document` in SQL, so that the database hands over each record's served text and no
# Python runs per row. The same rule: `last_seen` spliced in as ISO-8601 UTC with milliseconds
# (truncated, as `isoformat_z` does) and a `Z`, or null. NULL when the row has no document or,
# on SQLite, a `last_seen` not in the text form SQLAlchemy stores (`YYYY-MM-DD HH:MM:SS.ffffff`):
# such rows are served by `serve_document` instead.
SERVED_DOCUMENT_SQL = {
    "sqlite": (
        "CASE WHEN document IS NULL OR (last_seen IS NOT NULL AND length(last_seen) != 26) "
        "THEN NULL ELSE "
        "CASE WHEN document = '{}' THEN '{' ELSE substr(document, 1, length(document) - 1) "
        "|| ',' END || '\"last_seen\":' || CASE WHEN last_seen IS NULL THEN 'null' "
        "ELSE '\"' || substr(last_seen, 1, 10) || 'T' || substr(last_seen, 12, 12) || 'Z\"' "
        "END || '}' END"
    ),
    "postgresql": (
        "CASE WHEN document IS NULL THEN NULL ELSE "
        "CASE WHEN document = '{}' THEN '{' ELSE left(document, -1) || ',' END "
        "|| '\"last_seen\":' || COALESCE('\"' || to_char(last_seen AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') || '\"', 'null') || '}' END"
    ),
}


def envelope(meta: dict[str, Any], documents: Sequence[str]) -> bytes:
    """Propexo's list envelope around serialised results."""
    return b"".join(
        (b'{"meta":', orjson.dumps(meta), b',"results":[', ",".join(documents).encode(), b"]}")
    )
