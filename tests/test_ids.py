"""Ids sort in the order they were made, within one process, even inside one millisecond."""

from __future__ import annotations

import os
import uuid

from propbridge.db.ids import new_id


def test_ids_made_in_one_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(value).version for value in ids} == {7}


def test_a_forked_process_draws_its_own_random_bits() -> None:
    new_id()  # the parent holds a block of random bytes; a child must not reuse it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(write, ",".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    ours = [new_id() for _ in range(50)]
    with os.fdopen(read) as pipe:
        theirs = pipe.read().split(",")
    os.waitpid(child, 0)
    assert len(theirs) == 50
    # Past the version digit: the random bits, which the millisecond does not explain.
    assert not {value[15:] for value in ours} & {value[15:] for value in theirs}
