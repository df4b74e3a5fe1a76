"""`/openapi.json` says exactly what the server does: every operation typed in full, every 200
body of every operation valid against it (records allow no key they do not list), every
declared query parameter taken and no other, and, where Propexo describes a path, a schema
that keeps every field of Propexo's and marks each of ours.

The schemathesis run in `test_fuzz.py` sends generated requests; here each operation is driven
with real data through the seed path, so that every documented 200 is seen at least once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from propbridge.sandbox.resman.seed import SeedSize
from tests.conftest import stack_of_its_own
from tests.support import LiveStack, propexo_document

EXTENSION = "x-propbridge-extension"
ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    yield from stack_of_its_own(database_url, tmp_path_factory, SeedSize(1, 4, 2))


@pytest.fixture(scope="module")
def document(live: LiveStack) -> dict[str, Any]:
    body: dict[str, Any] = live.http.get("/openapi.json").json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:ours", resource)
    pointer = {"$ref": "urn:ours" + schema["$ref"]} if "$ref" in schema else schema
    return jsonschema.Draft202012Validator(pointer, registry=registry)


def assert_documented(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The answer's status is documented for the operation, and its body valid against it."""
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: undocumented {status}"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    errors = list(validator(document, schema).iter_errors(response.json()))
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]
    )


def test_the_document_is_valid_openapi_with_every_operation_complete(
    document: dict[str, Any],
) -> None:
    validate(document)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    count = 0
    for path, method, operation in operations(document):
        count += 1
        label = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "422" not in responses, label
        ok = responses["200"]["content"]["application/json"]["schema"]
        assert ok.get("$ref") or ok.get("properties"), f"{label}: an empty 200 schema"
        expected = {"400"}
        if path.startswith("/v1/"):
            expected |= {"401", "403", "429"}
        else:
            assert operation["security"] == [], label
        if "{" in path:
            expected.add("404")
        if method == "post":
            expected |= {"409", "413"}
            assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), label
        if method == "put":
            expected.add("413")
        assert expected <= set(responses), f"{label}: {sorted(expected - set(responses))}"
        for status, answer in responses.items():
            if status.startswith("4"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            assert "type" in schema or "anyOf" in schema, f"{label}: {parameter['name']}"
            assert parameter.get("description") or parameter["in"] == "path", label
        if method in ("post", "put") and not path.endswith(
            ("retry-write/{root_job_id}", "redeliver")
        ):
            assert "requestBody" in operation, label
    assert count == 44


def test_what_is_ours_is_marked_and_what_is_propexos_is_kept(document: dict[str, Any]) -> None:
    propexo = propexo_document()
    theirs = propexo["components"]["schemas"]

    def resolve(schema: dict[str, Any], pool: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = pool[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    ours = document["components"]["schemas"]
    vendor_routes = {"/v1/resident-charges/resman/", "/v1/resident-payments/resman/"}
    vendor_routes.add("/v1/resident-charges/batch/resman/")
    compared = 0
    wrong: list[str] = []
    propexos: dict[str, set[str]] = {}
    for path, method, operation in operations(document):
        their_operation = propexo["paths"].get(path, {}).get(method)
        if their_operation is None:
            # Propexo's document has no vendor routes (its docs pages do): not extensions.
            assert operation.get(EXTENSION) or path in vendor_routes, f"{method} {path}"
            continue
        assert not operation.get(EXTENSION), f"{method} {path} is Propexo's"
        their_ok = their_operation["responses"]["200"]["content"]["application/json"]["schema"]
        our_ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        their_body, our_body = resolve(their_ok, theirs), resolve(our_ok, ours)
        if "results" not in their_body.get("properties", {}):
            continue
        their_item = resolve(their_body["properties"]["results"], theirs)
        our_ref = our_body["properties"]["results"]
        if their_item.get("type") == "array":
            their_item = resolve(their_item["items"], theirs)
            our_ref = our_ref["items"]
        our_item = resolve(our_ref, ours)
        their_fields = set(their_item.get("properties", {}))
        our_fields = our_item.get("properties", {})
        if not their_fields:
            continue
        compared += 1
        label = f"{method} {path}"
        assert their_fields <= set(our_fields), f"{label}: {sorted(their_fields - set(our_fields))}"
        # Propexo's list and by-ID schemas of one object differ a little: a field is theirs
        # if any of them has it.
        propexos.setdefault(our_ref["$ref"], set()).update(their_fields)
        our_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        their_params = {p["name"] for p in their_operation.get("parameters", [])}
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter.get(EXTENSION):
                assert parameter["name"] not in their_params, f"{label}: {parameter['name']}"
        assert our_params, label
    for ref, their_fields in propexos.items():
        fields = resolve({"$ref": ref}, ours)["properties"]
        wrong.extend(
            f"{ref}: {name}"
            for name, schema in fields.items()
            if schema.get(EXTENSION, False) != (name not in their_fields)
        )
    assert not wrong, "marked as ours but Propexo's, or the other way round: " + ", ".join(wrong)
    assert compared >= 15


def test_every_operation_answers_as_documented_through_the_seed_path(
    live: LiveStack, document: dict[str, Any]
) -> None:
    http = live.http
    seen: set[tuple[str, str]] = set()

    def check(method: str, path: str, concrete: str, **kwargs: Any) -> Any:
        response = http.request(method.upper(), concrete, **kwargs)
        assert response.status_code == 200, (concrete, response.text)
        assert_documented(document, path, method, response)
        seen.add((method, path))
        return response.json()

    integration = live.create_integration()
    integration_id = integration["id"]
    seen.add(("post", "/v1/admin/integrations/"))
    live.sync(integration_id)
    records: dict[str, dict[str, Any]] = {}
    for path, method, _operation in operations(document):
        if method == "get" and path.startswith("/v1/") and path.endswith("/") and "{" not in path:
            body = check(method, path, path)
            if body["results"] and isinstance(body["results"], list):
                records[path] = body["results"][0]
    for path, method, _operation in operations(document):
        if method == "get" and path.endswith("}") and path.count("{") == 1:
            base = path[: path.index("{")]
            if base in records and not base.startswith("/v1/admin/write-status"):
                check(method, path, base + records[base]["id"])
    check(
        "get",
        "/v1/admin/integrations/{integration_id}/",
        f"/v1/admin/integrations/{integration_id}/",
    )
    # One on ResMan's production hosts (no base_url): `base_url` is null.
    production = check(
        "post",
        "/v1/admin/integrations/",
        "/v1/admin/integrations/",
        json={
            "integration_vendor": "RESMAN",
            "name": "production",
            "credentials": live.credentials(),
        },
    )["result"]
    assert production["base_url"] is None
    http.delete(f"/v1/admin/integrations/{production['id']}/")
    refused = http.post(
        f"/v1/admin/integrations/{integration_id}/manual-sync", json={"models_to_sync": ["nope"]}
    )
    assert refused.status_code == 400
    assert_documented(
        document, "/v1/admin/integrations/{integration_id}/manual-sync", "post", refused
    )
    check(
        "put",
        "/v1/admin/integrations/{integration_id}/",
        f"/v1/admin/integrations/{integration_id}/",
        json={"sync_frequency": 6},
    )
    check(
        "get",
        "/v1/admin/integrations/{integration_id}/sync-runs",
        f"/v1/admin/integrations/{integration_id}/sync-runs",
    )
    resident = records["/v1/residents/"]
    code = next(
        c
        for c in http.get("/v1/charge-codes/", params={"category_type": "Charge"}).json()["results"]
    )
    charge = {
        "integration_id": integration_id,
        "resident_id": resident["id"],
        "charge_code_id": code["id"],
        "batch_id": "B-doc",
        "transaction_date": "2026-11-20T00:00:00Z",
        "description": "documented",
        "notes": "from the OpenAPI test",
        "amount_in_cents": 1234,
        "reference_number": f"doc-{uuid.uuid4().hex[:10]}",
    }
    accepted = check(
        "post", "/v1/resident-charges/resman/", "/v1/resident-charges/resman/", json=charge
    )
    # The same reference with another body: the 409 names the first write's job.
    reused = http.post("/v1/resident-charges/resman/", json={**charge, "description": "other"})
    assert reused.status_code == 409 and reused.json()["error"]["details"]["job_id"]
    assert_documented(document, "/v1/resident-charges/resman/", "post", reused)
    payment = {
        **{k: v for k, v in charge.items() if k != "charge_code_id"},
        "payment_type": "ACH",
        "reference_number": f"doc-{uuid.uuid4().hex[:10]}",
    }
    check("post", "/v1/resident-payments/resman/", "/v1/resident-payments/resman/", json=payment)
    batch = {
        "integration_id": integration_id,
        "charges": [
            {
                **{k: v for k, v in charge.items() if k != "integration_id"},
                "reference_number": f"doc-{uuid.uuid4().hex[:10]}",
            }
        ],
    }
    check(
        "post",
        "/v1/resident-charges/batch/resman/",
        "/v1/resident-charges/batch/resman/",
        json=batch,
    )
    generic = {**charge, "reference_number": f"doc-{uuid.uuid4().hex[:10]}"}
    check("post", "/v1/resident-charges/", "/v1/resident-charges/", json=generic)
    generic_payment = {**payment, "reference_number": f"doc-{uuid.uuid4().hex[:10]}"}
    check("post", "/v1/resident-payments/", "/v1/resident-payments/", json=generic_payment)
    job_id = accepted["meta"]["job_id"]
    live.wait_job(job_id)
    check("get", "/v1/admin/write-status/{root_job_id}", f"/v1/admin/write-status/{job_id}")
    # A write ResMan refuses can be retried: ResMan renames the charge code behind our back.
    with live.sandbox_store.transaction() as db:
        db.execute("UPDATE categories SET abbreviation = 'X' || abbreviation")
    failing = check(
        "post",
        "/v1/resident-charges/resman/",
        "/v1/resident-charges/resman/",
        json={**charge, "reference_number": f"doc-{uuid.uuid4().hex[:10]}"},
    )
    failed_job = failing["meta"]["job_id"]
    live.wait_job(failed_job)
    with live.sandbox_store.transaction() as db:
        db.execute("UPDATE categories SET abbreviation = substr(abbreviation, 2)")
    assert http.get(f"/v1/admin/write-status/{failed_job}").json()["write_status"] == "FAILURE"
    check("post", "/v1/admin/retry-write/{root_job_id}", f"/v1/admin/retry-write/{failed_job}")
    live.writes_settled()
    check("get", "/v1/admin/logs/writes/", "/v1/admin/logs/writes/")
    hook = check(
        "post",
        "/v1/webhooks/",
        "/v1/webhooks/",
        json={"url": f"{live.sandbox_url}/hook", "triggers": ["SYNC_COMPLETE"], "active": True},
    )["result"]
    path_of_hook = f"/v1/webhooks/{hook['id']}"
    check("get", "/v1/webhooks/{webhook_id}", path_of_hook)
    check("put", "/v1/webhooks/{webhook_id}", path_of_hook, json={"triggers": ["SYNC_COMPLETE"]})
    check(
        "post",
        "/v1/admin/integrations/{integration_id}/manual-sync",
        f"/v1/admin/integrations/{integration_id}/manual-sync",
    )
    live.writes_settled()

    def delivered() -> list[dict[str, Any]]:
        return list(http.get(f"{path_of_hook}/deliveries").json()["results"])

    from tests.support import wait_for

    deliveries = wait_for(delivered, timeout=60)
    check("get", "/v1/webhooks/{webhook_id}/deliveries", f"{path_of_hook}/deliveries")
    check(
        "post",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        f"{path_of_hook}/deliveries/{deliveries[0]['id']}/redeliver",
    )
    check("delete", "/v1/webhooks/{webhook_id}", path_of_hook)
    spare = live.new_token(scopes=["read"])
    keys = http.get("/v1/admin/api-keys/").json()["results"]
    spare_id = next(k["id"] for k in keys if spare.startswith(k["token_prefix"]))
    check("delete", "/v1/admin/api-keys/{key_id}", f"/v1/admin/api-keys/{spare_id}")
    check("get", "/healthz", "/healthz")
    check("get", "/readyz", "/readyz")
    check(
        "delete",
        "/v1/admin/integrations/{integration_id}/",
        f"/v1/admin/integrations/{integration_id}/",
    )
    missing = {(m, p) for p, m, _ in operations(document)} - seen
    assert not missing, sorted(missing)


def test_every_documented_query_parameter_is_taken_and_no_other(
    live: LiveStack, document: dict[str, Any]
) -> None:
    samples = {"string": "x", "boolean": "true", "integer": "1"}
    for path, method, operation in operations(document):
        if method != "get" or "{" in path or not path.startswith("/v1/"):
            continue
        for parameter in operation["parameters"]:
            schema = parameter["schema"]
            if "enum" in schema:
                value = schema["enum"][0]
            elif schema.get("format") == "date" or "anyOf" in schema:
                value = "2026-01-01"
            elif "examples" in schema:
                value = schema["examples"][0]
            else:
                value = samples[schema["type"]]
            params = {parameter["name"]: value}
            if parameter["name"] == "unit_number" and path == "/v1/leases/":
                params["property_id"] = "x"
            response = live.http.get(path, params=params)
            assert response.status_code == 200, (path, params, response.text)
            if parameter["name"] == "order-by":
                # Every field the pattern admits can be ordered by, on both engines.
                fields = re.findall(r"[a-z_0-9]+", schema["pattern"].split(")")[0])
                for field in fields:
                    for direction in ("asc", "desc"):
                        ordered = live.http.get(path, params={"order-by": f"{field}:{direction}"})
                        assert ordered.status_code == 200, (path, field, ordered.text)


def test_no_route_takes_a_query_parameter_it_does_not_declare(
    live: LiveStack, document: dict[str, Any]
) -> None:
    for path, method, operation in operations(document):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert "not_a_parameter" not in declared
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        response = live.http.request(
            method.upper(), concrete, params={"not_a_parameter": "1"}, json={}
        )
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"]["details"]["issues"][0]["path"] == ["not_a_parameter"]
        assert_documented(document, path, method, response)
        if path.startswith("/v1/"):
            # Without a token, a 401 whatever the request asks (SPEC §3).
            anonymous = httpx.request(
                method.upper(), live.base_url + concrete, params={"not_a_parameter": "1"}
            )
            assert anonymous.status_code == 401, (method, path, anonymous.text)


def test_a_form_encoded_body_is_told_to_be_json_and_messages_carry_no_library_prefix(
    live: LiveStack,
) -> None:
    form = live.http.post(
        "/v1/resident-charges/resman/", data={"integration_id": "x", "amount_in_cents": "5"}
    )
    assert form.status_code == 400
    assert "Content-Type: application/json" in form.json()["error"]["message"]
    bad_date = live.http.post(
        "/v1/resident-charges/resman/", json={"transaction_date": "yesterday"}
    ).json()
    messages = [i["message"] for i in bad_date["error"]["details"]["issues"]]
    assert "must be an ISO-8601 date-time, e.g. 2024-06-01T10:00:00Z" in messages
    assert not any(m.startswith(("Value error", "Assertion failed")) for m in messages)


def test_a_wrong_method_names_every_allowed_one_and_a_missing_slash_redirects(
    live: LiveStack,
) -> None:
    wrong = live.http.patch("/v1/webhooks/x")
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) >= {"GET", "PUT", "DELETE"}
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    listing = live.http.patch("/v1/admin/integrations/")
    assert {"GET", "POST"} <= set(listing.headers["allow"].split(", "))
    # `/v1/resident-charges/resman` would otherwise match the by-ID GET route and get a 405.
    for path in ("/v1/resident-charges/resman", "/v1/resident-payments/resman"):
        moved = live.http.post(path, json={}, follow_redirects=False)
        assert moved.status_code == 307, (path, moved.text)
        assert moved.headers["location"].endswith(path + "/")
    assert "HEAD" in wrong.headers["allow"].split(", ")
    for path in ("/healthz", "/readyz", "/v1/properties/"):
        head, get = live.http.head(path), live.http.get(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_propexos_other_filters_filter(live: LiveStack) -> None:
    integration = live.create_integration()
    live.sync(integration["id"])
    http = live.http
    mine = {"integration_id": integration["id"]}
    lease = next(
        row for row in http.get("/v1/leases/", params=mine).json()["results"] if row["unit_id"]
    )
    by_unit = http.get("/v1/leases/", params={**mine, "unit_id": lease["unit_id"]}).json()
    assert by_unit["results"] and {r["unit_id"] for r in by_unit["results"]} == {lease["unit_id"]}
    by_x_unit = http.get("/v1/leases/", params={**mine, "x_unit_id": lease["x_unit_id"]}).json()
    assert {r["id"] for r in by_x_unit["results"]} == {r["id"] for r in by_unit["results"]}
    for path in ("/v1/properties/", "/v1/residents/", "/v1/units/"):
        nowhere = http.get(path, params={**mine, "location_id": "L1"}).json()
        assert nowhere["meta"]["total"] == 0 and nowhere["results"] == []
    archived = live.create_integration()
    http.delete(f"/v1/admin/integrations/{archived['id']}/")
    listed = http.get("/v1/admin/integrations/", params={"is_archived": "true"}).json()
    assert archived["id"] in {row["id"] for row in listed["results"]}
    assert all(row["is_archived"] for row in listed["results"])
    live_ones = http.get("/v1/admin/integrations/", params={"integration_vendor": "RESMAN"})
    assert integration["id"] in {row["id"] for row in live_ones.json()["results"]}
    others = http.get("/v1/admin/integrations/", params={"integration_vendor": "ENTRATA"}).json()
    assert others["results"] == []
    assert (
        http.get("/v1/admin/integrations/", params={"integration_vendor": "X"}).status_code == 400
    )
