"""Every API error, whatever its status, has the one shape of core/api_errors.py, and the
OpenAPI schema documents it once (the ApiError component) for every operation's errors."""

from typing import Any

import pytest
from django.test import Client

from accounts.services import api_token_create
from core.tenancy import tenant
from tests.auditlog.api_helpers import bearer, build_world


@pytest.fixture
def world(db):
    return build_world()


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "status", "request_id"}, body
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    error = body["error"]
    assert {"code", "message", "param", "params"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["params"], dict)
    assert error["param"] == next(iter(error["params"]), None)
    if code is not None:
        assert error["code"] == code, error
    return error


def test_every_4xx_has_the_same_shape(world, settings):
    client = bearer(world.secret)
    error = assert_error_shape(client.get("/api/v1/audit-events/", {"start": "x"}), 400)
    assert error["code"] == "invalid" and error["param"] == "start"
    assert_error_shape(Client().get("/api/v1/audit-events/"), 401, "not_authenticated")
    with tenant(world.org):
        _, customers_only = api_token_create(name="Customers", scopes=["customers:read"])
    error = assert_error_shape(
        bearer(customers_only).get("/api/v1/audit-events/"), 403, "permission_denied"
    )
    assert error["missing_scope"] == "audit:read"
    assert_error_shape(client.get("/api/v1/audit-events/999999/"), 404, "not_found")
    assert_error_shape(client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error_shape(client.delete("/api/v1/audit-events/"), 405, "method_not_allowed")
    settings.API_TOKEN_RATE = "1/minute"
    with tenant(world.org):
        _, busy = api_token_create(name="Busy")
    assert bearer(busy).get("/api/v1/audit-events/").status_code == 200
    limited = bearer(busy).get("/api/v1/audit-events/")
    assert_error_shape(limited, 429, "throttled")
    assert 0 < int(limited["Retry-After"]) <= 60


def test_request_bodies_are_json_only_a_form_is_415(world):
    client = bearer(world.secret)
    for content_type, data in (
        ("application/x-www-form-urlencoded", "format=csv"),
        (
            "multipart/form-data; boundary=X",
            '--X\r\nContent-Disposition: form-data; name="format"\r\n\r\ncsv\r\n--X--\r\n',
        ),
    ):
        response = client.post("/api/v1/exports/", data, content_type=content_type)
        assert_error_shape(response, 415, "unsupported_media_type")
    error = assert_error_shape(
        client.post("/api/v1/exports/", "{nope", content_type="application/json"), 400
    )
    assert error["code"] == "parse_error"
    error = assert_error_shape(
        client.post("/api/v1/customers/", {"email": "x"}, content_type="application/json"),
        400,
        "invalid",
    )
    assert {"name", "email"} <= set(error["params"])


def test_the_schema_declares_json_bodies_once_and_one_error_component(world):
    schema = world.admin_client().get("/api/schema/?format=json").json()
    assert set(schema["components"]["schemas"]["ApiError"]["properties"]) == {
        "error",
        "status",
        "request_id",
    }
    assert "Error" not in schema["components"]["schemas"]
    reference = {"$ref": "#/components/schemas/ApiError"}
    operations = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            operations += 1
            if "requestBody" in operation:
                assert set(operation["requestBody"]["content"]) == {"application/json"}, path
                assert "415" in operation["responses"], (method, path)
            errors = {code: r for code, r in operation["responses"].items() if code[0] == "4"}
            assert {"401", "403", "404", "429"} <= set(errors), (method, path)
            for code, response in errors.items():
                assert response["content"] == {"application/json": {"schema": reference}}, (
                    method,
                    path,
                    code,
                )
            assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)
    assert operations > 10
