"""Fuzzing our whole OpenAPI document with schemathesis: no 5xx, and every answer documented:
its status, its content type and its body (the record schemas allow no key they do not list).

A bounded number of generated requests per operation, against a stack of its own (the fuzzer
creates integrations, keys' webhooks and writes with whatever it invents).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from propbridge.sandbox.resman.seed import SeedSize
from tests.conftest import stack_of_its_own
from tests.support import LiveStack

# Generated requests per operation (bounded: the suite must stay fast).
EXAMPLES = 8


@pytest.fixture(scope="module")
def fuzzed_stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    yield from stack_of_its_own(database_url, tmp_path_factory, SeedSize(1, 3, 1))


def test_no_server_errors_and_documented_responses(fuzzed_stack: LiveStack) -> None:
    # The document's relative paths resolve against where it was loaded from.
    schema = schemathesis.openapi.from_url(f"{fuzzed_stack.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed_stack.admin_token}"}
    failures: list[str] = []
    calls: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            calls.append(case.method)
            case.call_and_validate(
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=30,
            )

        try:
            run()
        except Exception as error:  # collected: one report for every operation
            failures.append(f"{operation.label}: {str(error)[:500]}")
    assert operations > 30 and len(calls) >= operations * 2
    assert not failures, "\n\n".join(failures)


def test_bodies_over_the_limit_are_413(fuzzed_stack: LiveStack) -> None:
    big = b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    for path in ("/v1/resident-charges/", "/v1/webhooks/", "/v1/admin/integrations/"):
        response = fuzzed_stack.http.post(
            path, content=big, headers={"content-type": "application/json"}
        )
        assert (
            response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
        )
