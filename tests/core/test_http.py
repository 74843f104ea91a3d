from __future__ import annotations

import pytest

from airflow_provider_cfw.core.http import HttpResponse


def test_a_response_built_from_any_headers_reads_them_by_lower_case_name() -> None:
    given = {"X-Request-Id": "req-1", "Retry-After": "5"}
    response = HttpResponse.of(429, given, b"")
    assert response.request_id == "req-1" and response.headers.get("retry-after") == "5"
    given["X-Request-Id"] = "changed"
    assert response.request_id == "req-1"
    with pytest.raises(TypeError):
        response.headers["x-request-id"] = "changed"  # type: ignore[index]
