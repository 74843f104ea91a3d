"""CreateFirewall's X-Client-Token is pinned: the same inputs give the same token in every version of
the provider, or a retry across an upgrade would order (and bill) a second firewall."""

from __future__ import annotations

from airflow_provider_cfw.core.client_token import client_token

BODY = {
    "name": "airflow-fw-1",
    "flavor": {"version": "Professional"},
    "charge_info": {"charge_mode": "postPaid"},
}


def test_the_token_of_fixed_inputs_never_changes() -> None:
    token = client_token(
        dag_id="firewall_lifecycle",
        run_id="manual__2026-12-07T00:00:00+00:00",
        task_id="create_firewall",
        map_index=-1,
        project_id=None,
        body=BODY,
        clear_number=0,
    )
    assert token == "498e5496051657aabb9f816aea23be6e"


def test_every_input_counts_and_non_ascii_is_hashed_as_written() -> None:
    token = client_token(
        dag_id="d",
        run_id="r",
        task_id="t",
        map_index=3,
        project_id="0" * 32,
        body={"name": "fw-ü"},
        clear_number=2,
    )
    assert token == "b4e7cb46f11c53ffbbccee02b3e2be12"
    base = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": 3, "project_id": "0" * 32}
    for key, other in [
        ("dag_id", "e"),
        ("run_id", "s"),
        ("task_id", "u"),
        ("map_index", 4),
        ("project_id", None),
    ]:
        assert client_token(**{**base, key: other}, body={"name": "fw-ü"}, clear_number=2) != token, key
    assert client_token(**base, body={"name": "fw-ü"}, clear_number=3) != token
