"""Ids sort in the order they were made, within one process, even inside one millisecond."""

from __future__ import annotations

import uuid

from propbridge.db.ids import new_id


def test_ids_made_in_one_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(value).version for value in ids} == {7}
