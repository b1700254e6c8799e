"""Contract check: schemathesis generates requests from our OpenAPI document and
fails on any server error or any response that breaks the documented schema.
Every route in the document is covered automatically, including later ones.

Driven through schemathesis' Python API (operation strategies + Hypothesis)
because its lazy pytest fixture loader does not work with pytest 9.
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import Factory

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    status_code_conformance,
]
EXAMPLES_PER_OPERATION = 15


def test_every_operation_honours_its_contract(app: FastAPI, factory: Factory) -> None:
    tenant = factory.tenant()
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            # A fresh session per case: a generated logout must not sign out the next one.
            case.call_and_validate(headers=factory.headers(tenant.admin), checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # collect every failing operation, not just the first
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert operations >= 20, "the OpenAPI document lost its operations"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
