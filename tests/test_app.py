"""The application as a whole: what its OpenAPI document tells a client."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_documents_the_credentials_on_every_v1_operation(app_client: TestClient) -> None:
    schema = app_client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert (schemes["apiKey"]["name"], schemes["apiSecret"]["name"]) == (
        "X-Api-Key",
        "X-Api-Secret",
    )
    status = schema["paths"]["/v1/compliance/status/{customerId}"]["get"]
    assert status["security"] == [{"bearer": []}, {"apiKey": [], "apiSecret": []}]
    # The credentials are not parameters (read from the request, see kycd.api.deps).
    assert [p["name"] for p in status["parameters"]] == ["customerId"]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert all(
        "security" in operation
        for path, operations in schema["paths"].items()
        if path.startswith("/v1/")
        for operation in operations.values()
    )
