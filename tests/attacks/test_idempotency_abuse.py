"""Attacks on `Idempotency-Key`: replay a stored response with a revoked or forged token,
replay a refusal, flood the key store without a key."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, insert, select

from propbridge.api.dependencies import MISS_REFRESH_SECONDS
from propbridge.db.base import utcnow
from propbridge.idempotency.models import IdempotencyKey
from propbridge.idempotency.service import KEY_TTL, forget_expired_keys
from propbridge.jobs.models import Schedule
from tests.e2e.test_seed_path import _charge
from tests.support import LiveStack, wait_for

HOOK = {"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}


def _keys(stack: LiveStack) -> int:
    async def count() -> int:
        async with stack.runtime.database.read() as session:
            return int((await session.execute(select(func.count(IdempotencyKey.id)))).scalar_one())

    return stack.call(count())


def test_a_revoked_token_gets_no_replay(stack: LiveStack) -> None:
    token = stack.new_token()
    client = stack.client(token)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = client.post("/v1/webhooks/", json=HOOK, headers=key)
    assert first.status_code == 200 and first.json()["result"]["secret"]
    assert client.post("/v1/webhooks/", json=HOOK, headers=key).headers["idempotent-replayed"]
    key_id = next(
        k["id"]
        for k in stack.http.get("/v1/admin/api-keys/").json()["results"]
        if k["token_prefix"] == token[:10]
    )
    assert stack.http.delete(f"/v1/admin/api-keys/{key_id}").status_code == 200
    again = client.post("/v1/webhooks/", json=HOOK, headers=key)
    assert again.status_code == 401 and "secret" not in again.text
    stack.http.delete(f"/v1/webhooks/{first.json()['result']['id']}")


def test_unauthenticated_requests_write_nothing(stack: LiveStack) -> None:
    before = _keys(stack)
    for n in range(50):
        forged = stack.client(f"pb_forged{n}")
        answer = forged.post("/v1/webhooks/", json=HOOK, headers={"Idempotency-Key": f"f-{n}"})
        assert answer.status_code == 401
    nobody = stack.client(None).post("/v1/webhooks/", json=HOOK, headers={"Idempotency-Key": "x"})
    assert nobody.status_code == 401
    assert _keys(stack) == before


def test_refusals_are_not_stored(stack: LiveStack, synced: dict[str, Any]) -> None:
    reader = stack.client(stack.new_token(scopes=["read"]))
    key = {"Idempotency-Key": f"r-{uuid.uuid4()}"}
    assert reader.post("/v1/webhooks/", json=HOOK, headers=key).status_code == 403
    assert reader.post("/v1/webhooks/", json=HOOK, headers=key).status_code == 403
    body = _charge(synced)
    key = {"Idempotency-Key": f"v-{uuid.uuid4()}"}
    bad = stack.http.post(
        "/v1/resident-charges/resman/", json={**body, "amount_in_cents": 0}, headers=key
    )
    assert bad.status_code == 400
    # The mistake was not kept: the corrected request runs, under the same key.
    good = stack.http.post("/v1/resident-charges/resman/", json=body, headers=key)
    assert good.status_code == 200 and "idempotent-replayed" not in good.headers
    stack.wait_job(good.json()["meta"]["job_id"])


def test_bodies_are_compared_as_json(stack: LiveStack) -> None:
    key = {"Idempotency-Key": f"j-{uuid.uuid4()}", "Content-Type": "application/json"}
    first = stack.http.post(
        "/v1/webhooks/",
        content=b'{"url": "http://127.0.0.1:9/", "triggers": ["JOB_FAILURE"]}',
        headers=key,
    )
    reordered = stack.http.post(
        "/v1/webhooks/",
        content=b'{"triggers":["JOB_FAILURE"],"url":"http://127.0.0.1:9/"}',
        headers=key,
    )
    assert reordered.headers.get("idempotent-replayed") == "true"
    assert reordered.json() == first.json()
    stack.http.delete(f"/v1/webhooks/{first.json()['result']['id']}")


def test_old_keys_are_deleted_by_housekeeping(stack: LiveStack) -> None:
    async def run() -> tuple[int, int]:
        async with stack.runtime.database.write() as session:
            await session.execute(
                insert(IdempotencyKey).values(
                    owner="someone",
                    key="ancient",
                    fingerprint="f",
                    state="done",
                    created_at=utcnow() - KEY_TTL - timedelta(minutes=1),
                )
            )
        async with stack.runtime.database.write() as session:
            deleted = await forget_expired_keys(session)
        async with stack.runtime.database.read() as session:
            scheduled = (
                await session.execute(
                    select(func.count(Schedule.id)).where(Schedule.kind == "housekeeping")
                )
            ).scalar_one()
        return deleted, int(scheduled)

    deleted, scheduled = stack.call(run())
    assert deleted >= 1 and scheduled >= 1


def test_a_flood_of_bad_tokens_costs_almost_no_queries(stack: LiveStack) -> None:
    """Unknown tokens share the process's reads of the keys: 400 of them at once make a few
    queries, not 400; a key made meanwhile works at once."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_keys" in statement:
            statements.append(statement)

    engines = {stack.runtime.database.read_engine, stack.runtime.database.write_engine}
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:

        def forged(n: int) -> int:
            with stack.client(f"pb_forged-{n}-{uuid.uuid4().hex}") as client:
                return client.get("/v1/residents/").status_code

        began = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(forged, range(400)))
        lasted = time.monotonic() - began
        assert set(answers) == {401}
        flood_queries = len(statements)
        fresh = stack.client(stack.new_token(scopes=["read"]))
        assert fresh.get("/v1/residents/").status_code == 200
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    # One read per MISS_REFRESH_SECONDS at most (and one every PRINCIPAL_CACHE_SECONDS).
    assert flood_queries <= lasted / MISS_REFRESH_SECONDS + 3, (flood_queries, lasted)
    assert flood_queries < 100


def test_replays_and_reused_keys_count_against_the_rate_limit(stack: LiveStack) -> None:
    limited = stack.client(stack.new_token(rate_limit=3))
    # Windows are whole minutes of the stack's clock: start well inside one.
    wait_for(lambda: stack.clock.now().second < 45, timeout=20)
    key = {"Idempotency-Key": f"counted-{uuid.uuid4()}"}
    first = limited.post("/v1/webhooks/", json=HOOK, headers=key)
    assert first.status_code == 200, first.text
    replayed = limited.post("/v1/webhooks/", json=HOOK, headers=key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.headers["x-ratelimit-remaining"] == "1"
    reused = limited.post("/v1/webhooks/", json={**HOOK, "active": True}, headers=key)
    assert reused.status_code == 409
    assert reused.headers["x-ratelimit-remaining"] == "0"
    refused = limited.post("/v1/webhooks/", json=HOOK, headers=key)
    assert refused.status_code == 429 and "idempotent-replayed" not in refused.headers
    assert refused.json()["error"]["code"] == "rate_limited"
