"""The firewall routes over real sockets: create, delete and list, their jobs, faults and signatures."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
import requests

from airflow_provider_cfw.testing import CfwEmulator

from .conftest import AK, OTHER_PROJECT, PROJECT, SK, signed

POSTPAID = {"charge_mode": "postPaid"}
PRO = {"version": "Professional"}


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def create(
    emu: CfwEmulator,
    name: str = "fw-a",
    *,
    charge: dict[str, Any] = POSTPAID,
    token: str | None = None,
    project: str = PROJECT,
    **extra: Any,
) -> requests.Response:
    payload = {"name": name, "flavor": PRO, "charge_info": charge, **extra}
    url = f"{emu.url}/v2/{project}/firewall"
    headers = {"X-Client-Token": token} if token else None
    return signed(url, method="POST", body=_body(payload), headers=headers, project_id=project).send()


def delete(emu: CfwEmulator, firewall_id: str, project: str = PROJECT) -> requests.Response:
    return signed(
        f"{emu.url}/v2/{project}/firewall/{firewall_id}", method="DELETE", project_id=project
    ).send()


def listing(emu: CfwEmulator, project: str = PROJECT, **query: Any) -> requests.Response:
    payload = {"limit": 1024, "offset": 0, **query}
    url = f"{emu.url}/v1/{project}/firewalls/list"
    return signed(url, method="POST", body=_body(payload), project_id=project).send()


def records(emu: CfwEmulator, **query: Any) -> list[dict[str, Any]]:
    response = listing(emu, **query)
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["records"])


def job_status(emu: CfwEmulator, job_id: str) -> str:
    response = signed(f"{emu.url}/v3/{PROJECT}/jobs/{job_id}").send()
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["status"])


def test_create_adds_a_creating_firewall_that_runs_when_its_job_succeeds(emu: CfwEmulator) -> None:
    response = create(emu)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["data"]["name"] == "fw-a" and "order_id" not in answer  # postPaid: no order
    [record] = records(emu)
    assert record["status"] == 0 and record["fw_instance_name"] == "fw-a"
    assert record["fw_instance_id"] == record["resource_id"]
    assert record["name"] != "fw-a"  # FirewallInstanceVO: ``name`` is the creation timestamp
    assert job_status(emu, answer["job_id"]) == "Running"
    emu.advance_clock(1.5)
    assert job_status(emu, answer["job_id"]) == "Success"
    assert records(emu)[0]["status"] == 2


def test_failed_create_job_leaves_a_create_failed_firewall(emu: CfwEmulator) -> None:
    emu.script_firewall_jobs([("Running", 0.5), ("Failed", None)])
    job_id = create(emu).json()["job_id"]
    emu.advance_clock(1.0)
    assert job_status(emu, job_id) == "Failed"
    assert records(emu)[0]["status"] == 6


def test_delete_marks_deleting_then_removes_the_firewall(emu: CfwEmulator) -> None:
    create(emu)
    emu.advance_clock(1.5)
    firewall_id = records(emu)[0]["fw_instance_id"]
    response = delete(emu, firewall_id)
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]
    assert records(emu)[0]["status"] == 1
    # A second delete while the first runs answers with the same job.
    assert delete(emu, firewall_id).json()["data"] == job_id
    emu.advance_clock(1.5)
    assert job_status(emu, job_id) == "Success"
    assert records(emu) == []
    gone = delete(emu, firewall_id)
    assert gone.status_code == 400 and gone.json()["error_code"] == "CFW.00200005"


def test_delete_of_another_projects_firewall_is_not_found(emu: CfwEmulator) -> None:
    create(emu)
    firewall_id = records(emu)[0]["fw_instance_id"]
    assert delete(emu, firewall_id, OTHER_PROJECT).status_code == 400
    assert records(emu)[0]["status"] == 0


def test_list_filters_by_key_word_and_pages(emu: CfwEmulator) -> None:
    for name in ("web-1", "web-2", "web-3", "db-1"):
        assert create(emu, name).status_code == 200
    assert [r["fw_instance_name"] for r in records(emu, key_word="web")] == ["web-1", "web-2", "web-3"]
    first = listing(emu, key_word="web", limit=2).json()["data"]
    second = listing(emu, key_word="web", limit=2, offset=2).json()["data"]
    assert first["total"] == second["total"] == 3
    assert [r["fw_instance_name"] for r in first["records"] + second["records"]] == [
        "web-1",
        "web-2",
        "web-3",
    ]
    # key_word matches part of an id as well: "db" may match a hex id, so pick by the name.
    [db_id] = [r["fw_instance_id"] for r in records(emu) if r["fw_instance_name"] == "db-1"]
    assert [r["fw_instance_name"] for r in records(emu, key_word=db_id)] == ["db-1"]  # by id too
    assert records(emu, project=OTHER_PROJECT) == []


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1025}, {"offset": -1}, {"limit": "10"}])
def test_list_refuses_bad_paging(emu: CfwEmulator, query: dict[str, Any]) -> None:
    assert listing(emu, **query).status_code == 400


def test_prepaid_without_auto_pay_awaits_payment(emu: CfwEmulator) -> None:
    charge = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1}
    answer = create(emu, charge=charge).json()
    assert answer["order_id"] and "job_id" not in answer
    emu.advance_clock(10)
    assert records(emu)[0]["status"] == -1
    assert emu.firewall_orders == 1


PREPAID_AUTO = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1, "is_auto_pay": True}


def test_a_prepaid_auto_paid_order_has_no_job_and_goes_creating_then_running(emu: CfwEmulator) -> None:
    # API reference: job_id "returned only when the billing mode is postpaid".
    paid = create(emu, "fw-paid", charge=PREPAID_AUTO).json()
    assert paid["order_id"] and "job_id" not in paid
    [record] = records(emu)
    assert (record["status"], record["charge_mode"]) == (0, 0)  # creating; 0 = yearly/monthly
    emu.advance_clock(1.5)
    assert records(emu)[0]["status"] == 2
    assert emu.firewall_orders == 1 and emu.firewalls_created == 1


def test_a_prepaid_creation_by_polls_advances_with_each_listing_and_can_fail(emu: CfwEmulator) -> None:
    emu.script_firewall_jobs(["Running", "Failed"])
    create(emu, "fw-paid", charge=PREPAID_AUTO)
    assert [r["status"] for r in records(emu)] == [0]
    assert [r["status"] for r in records(emu)] == [6]  # create failed
    assert [r["status"] for r in records(emu)] == [6]


def test_delete_of_a_prepaid_firewall_is_refused(emu: CfwEmulator) -> None:
    create(emu, "fw-paid", charge=PREPAID_AUTO)
    emu.advance_clock(1.5)
    [record] = records(emu)
    refused = delete(emu, record["fw_instance_id"])
    assert refused.status_code == 400, refused.text
    assert "pay-per-use" in refused.json()["error_msg"]
    assert records(emu)[0]["status"] == 2  # still running


def test_a_repeated_client_token_gets_the_first_answer_and_creates_nothing(emu: CfwEmulator) -> None:
    token = "0" * 31 + "1"
    first = create(emu, token=token)
    again = create(emu, token=token)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert emu.firewalls_created == 1 and len(records(emu)) == 1 and emu.repeated_client_tokens == 1
    # Another token, or the same one in another project, is another create.
    assert create(emu, token="0" * 31 + "2").json()["job_id"] != first.json()["job_id"]
    assert create(emu, token=token, project=OTHER_PROJECT).status_code == 200
    assert emu.firewalls_created == 3
    # No token: every create is carried out.
    create(emu)
    create(emu)
    assert emu.firewalls_created == 5


def test_a_list_lag_keeps_a_new_firewall_out_of_the_list_for_a_while(emu: CfwEmulator) -> None:
    emu.firewall_list_lag = 30
    create(emu)
    assert records(emu) == [] and len(emu.list_firewalls("fw-a")) == 1
    emu.advance_clock(29)
    assert records(emu) == []
    emu.advance_clock(2)
    assert [r["fw_instance_name"] for r in records(emu)] == ["fw-a"]
    emu.reset()
    assert emu.firewall_list_lag == 0


def test_the_list_is_scoped_by_enterprise_project(emu: CfwEmulator) -> None:
    create(emu, "fw-a", enterprise_project_id="eps-1")
    create(emu, "fw-b")
    assert [r["fw_instance_name"] for r in records(emu, enterprise_project_id="eps-1")] == ["fw-a"]
    assert [r["fw_instance_name"] for r in records(emu, enterprise_project_id="0")] == ["fw-b"]
    assert [r["fw_instance_name"] for r in records(emu)] == ["fw-a", "fw-b"]


@pytest.mark.parametrize(
    "payload",
    [
        {"flavor": PRO, "charge_info": POSTPAID},
        {"name": "fw", "charge_info": POSTPAID},
        {"name": "fw", "flavor": PRO},
    ],
)
def test_create_refuses_a_body_without_the_required_fields(emu: CfwEmulator, payload: dict[str, Any]) -> None:
    response = signed(f"{emu.url}/v2/{PROJECT}/firewall", method="POST", body=_body(payload)).send()
    assert response.status_code == 400
    assert emu.firewalls_created == 0


def test_bodies_are_part_of_the_signature(emu: CfwEmulator) -> None:
    request = signed(
        f"{emu.url}/v2/{PROJECT}/firewall",
        method="POST",
        body=_body({"name": "fw-a", "flavor": PRO, "charge_info": POSTPAID}),
    )
    tampered = request.body.replace(b"fw-a", b"fw-b")
    response = requests.post(request.url, headers=request.headers, data=tampered, timeout=10)
    assert response.status_code == 401 and response.json()["error_code"] == "APIGW.0301"
    assert emu.firewalls_created == 0 and emu.stats.auth_failures == {"bad_signature": 1}
    assert request.send().status_code == 200


def test_status_faults_apply_to_the_firewall_routes(emu: CfwEmulator) -> None:
    emu.inject("cfw.firewall.create", status=502)
    emu.inject("cfw.firewall.list", status=429)
    assert create(emu).status_code == 502
    assert emu.firewalls_created == 0  # an injected status answers instead of the service
    assert listing(emu).status_code == 429
    assert create(emu).status_code == 200


def test_lost_answer_carries_out_the_create_then_resets(emu: CfwEmulator) -> None:
    fault = emu.inject("cfw.firewall.create", "lost_answer")
    with pytest.raises(requests.ConnectionError):
        create(emu)
    assert fault.fired == 1
    assert emu.firewalls_created == 1 and [f.name for f in emu.list_firewalls()] == ["fw-a"]
    assert [r["fw_instance_name"] for r in records(emu)] == ["fw-a"]
    [entry] = [e for e in emu.stats.log if e.route == "cfw.firewall.create"]
    assert entry.status == 0 and entry.fault == "lost_answer"


def test_lost_answer_with_a_status_carries_out_the_create_then_answers_that_error(emu: CfwEmulator) -> None:
    emu.inject("cfw.firewall.create", "lost_answer", status=502)
    response = create(emu)
    assert response.status_code == 502
    assert emu.firewalls_created == 1 and [r["fw_instance_name"] for r in records(emu)] == ["fw-a"]


def test_reset_forgets_the_firewalls(emu: CfwEmulator) -> None:
    create(emu)
    emu.script_firewall_jobs([("Failed", None)])
    emu.reset()
    assert emu.list_firewalls() == [] and emu.firewalls_created == 0
    assert emu.firewalls.job_script != [("Failed", None)]


def test_a_bad_job_script_is_refused_at_once(emu: CfwEmulator) -> None:
    with pytest.raises(ValueError, match="statuses"):
        emu.script_firewall_jobs([])


# -- the official SDK's client, end to end (test-only dependency) --------------------------------------


@pytest.mark.sdk
def test_the_official_sdk_creates_lists_and_deletes(
    emu: CfwEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The SDK's own serialisation and signer against the emulator's checks, POST and DELETE included.
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("sdk-home")))
    # Not importorskip: the SDK is a locked test dependency, so its absence is a failure.
    v1 = importlib.import_module("huaweicloudsdkcfw.v1")
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    client = (
        v1.CfwClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([emu.url])
        .build()
    )
    created = client.create_firewall(
        v1.CreateFirewallRequest(
            body=v1.CreateFirewallReq(
                name="防火墙-sdk",
                tags=[v1.CreateFirewallReqTags(key="env", value="test")],
                flavor=v1.CreateFirewallReqFlavor(version="Professional", extend_bandwidth=10),
                charge_info=v1.CreateFirewallReqChargeInfo(charge_mode="postPaid"),
            )
        )
    )
    assert created.job_id and created.data.name == "防火墙-sdk"
    listed = client.list_firewall_list(
        v1.ListFirewallListRequest(body=v1.QueryFireWallInstanceDto(key_word="sdk", limit=10, offset=0))
    )
    [record] = listed.data.records
    assert record.fw_instance_name == "防火墙-sdk" and record.status == 0
    deleted = client.delete_firewall(v1.DeleteFirewallRequest(resource_id=record.fw_instance_id))
    assert deleted.data
    assert emu.stats.signature_failures == 0 and emu.firewalls_created == 1


def test_deleted_firewalls_can_stay_listed_as_status_4(emu: CfwEmulator) -> None:
    emu.list_deleted_firewalls = True
    create(emu)
    emu.advance_clock(1.5)
    firewall_id = records(emu)[0]["fw_instance_id"]
    delete(emu, firewall_id)
    emu.advance_clock(1.5)
    assert [r["status"] for r in records(emu)] == [4]
    assert delete(emu, firewall_id).json()["error_code"] == "CFW.00200005"
    assert [r["status"] for r in records(emu)] == [4]
    emu.reset()
    assert emu.list_deleted_firewalls is False
