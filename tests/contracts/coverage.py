"""Figures: how much of live ResMan's declared shape the sandbox returns, per v2 endpoint, and
how many of the real MITS element paths its `GetResidentTransactions2_0` reply has.

`python -m tests.contracts.coverage` prints them; the contract tests hold the same numbers to
their floors (every key; 95 % of the paths).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from propbridge.sandbox.resman.app import create_sandbox_app
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from tests.contracts.evidence import V2, Shape, mits_paths_covered, types_under
from tests.contracts.test_resman_contracts import CLOCK, CONFIG, V1_AUTH, V2_HEADERS, v2_answers


def main() -> None:
    store = SandboxStore()
    seed_store(store, SeedSize(properties=2, units=40, months=11), CLOCK.today())
    with TestClient(create_sandbox_app(store, CONFIG), base_url="http://127.0.0.1") as client:
        shape = Shape()
        for endpoint, _label, answer in v2_answers(client):
            spec = V2["endpoints"][endpoint]
            for item in answer[spec["envelope"]]:
                shape.check(spec["item"], item, endpoint)
        print(f"{'v2 endpoint':<28}{'live keys returned':>20}")
        for endpoint, spec in V2["endpoints"].items():
            seen, total = shape.coverage(types_under(spec["item"]))
            print(f"{endpoint:<28}{seen:>12} of {total:<4} {100 * seen / total:5.1f} %")
        print(f"shape problems: {len(shape.problems)}")
        pid = client.get("/Properties", headers=V2_HEADERS).json()["properties"][0]["propertyId"]
        reply = client.post("/MITS/GetResidentTransactions2_0", data={**V1_AUTH, "PropertyID": pid})
        covered, missing = mits_paths_covered(reply.content)
        share = 100 * len(covered) / (len(covered) + len(missing))
        print(
            f"\nGetResidentTransactions2_0: {len(covered)} of {len(covered) + len(missing)} real "
            f"element paths ({share:.1f} %); missing: {sorted(missing) or 'none'}"
        )


if __name__ == "__main__":
    main()
