"""Firewall calls: validation naming the field, request builders against the official SDK's requests
(URL, body bytes and signature), and the answer parsers."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from airflow_provider_cfw.core.client_token import client_token
from airflow_provider_cfw.core.errors import CfwApiError, CfwConfigError, CfwResponseError
from airflow_provider_cfw.core.firewalls import (
    CfwFirewall,
    awaits_payment,
    create_firewall_body,
    create_request,
    delete_request,
    list_request,
    named,
    parse_create_response,
    parse_delete_response,
    parse_list_response,
    validate_client_token,
    validate_firewall_id,
    validate_firewall_name,
    with_id,
)
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.signing import AkSkCredentials, sign_request

AK = "AKIDEXAMPLE0000000000"
SK = "SKEXAMPLEsecretKey0123456789abcdefghijkl"
PROJECT = "0123456789abcdef0123456789abcdef"
ENDPOINT = "https://cfw.cn-north-4.myhuaweicloud.com"
FIREWALL = "b4b8fa10-95ba-4e3b-a3b2-7e4e8a1c2d3f"
PRO = {"version": "Professional"}


def body(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": "fw-prod_01", "flavor": PRO}
    fields.update(overrides)
    return create_firewall_body(**fields)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "fw-prod_01", "防火墙-1", "x" * 48])
def test_valid_names(name: str) -> None:
    assert validate_firewall_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 49, "fw prod", "fw.prod", "fw/../x", "fw\n", None, 3])
def test_invalid_names_name_the_field(name: object) -> None:
    with pytest.raises(CfwConfigError, match=r"^name: expected a firewall name of 1 to 48 characters"):
        validate_firewall_name(name)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"flavor": {"version": "Basic"}}, "flavor.version"),
        ({"flavor": {}}, "flavor.version"),
        ({"flavor": "Professional"}, "flavor"),
        ({"flavor": {"version": "Professional", "extend_eip_count": 2001}}, "flavor.extend_eip_count"),
        ({"flavor": {"version": "Professional", "extend_eip_count": -1}}, "flavor.extend_eip_count"),
        ({"flavor": {"version": "Professional", "extend_bandwidth": 7}}, "flavor.extend_bandwidth"),
        ({"flavor": {"version": "Professional", "extend_bandwidth": 5005}}, "flavor.extend_bandwidth"),
        ({"flavor": {"version": "Professional", "extend_vpc_count": 101}}, "flavor.extend_vpc_count"),
        ({"flavor": {"version": "Professional", "extend_vpc_count": True}}, "flavor.extend_vpc_count"),
        ({"flavor": {"version": "Professional", "extend_vpc": 1}}, "flavor.extend_vpc"),
        # Pay-per-use firewalls come in the Professional edition only.
        ({"flavor": {"version": "Standard"}}, "flavor.version"),
        ({"charge_info": {"charge_mode": "monthly"}}, "charge_info.charge_mode"),
        ({"charge_info": {"charge_mode": "prePaid"}}, "charge_info.period_type"),
        ({"charge_info": {"charge_mode": "prePaid", "period_type": "week"}}, "charge_info.period_type"),
        ({"charge_info": {"charge_mode": "prePaid", "period_type": "month"}}, "charge_info.period_num"),
        (
            {"charge_info": {"charge_mode": "prePaid", "period_type": "month", "period_num": 10}},
            "charge_info.period_num",
        ),
        (
            {"charge_info": {"charge_mode": "prePaid", "period_type": "year", "period_num": 4}},
            "charge_info.period_num",
        ),
        (
            {"charge_info": {"charge_mode": "prePaid", "period_type": "year", "period_num": 0}},
            "charge_info.period_num",
        ),
        (
            {"charge_info": {"charge_mode": "postPaid", "is_auto_pay": "yes"}},
            "charge_info.is_auto_pay",
        ),
        ({"tags": [{"key": "", "value": "x"}]}, "tags[0]"),
        ({"tags": "env=prod"}, "tags"),
        ({"enterprise_project_id": "../x"}, "enterprise_project_id"),
        ({"name": "bad name"}, "name"),
    ],
)
def test_invalid_input_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(CfwConfigError) as info:
        body(**overrides)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: expected ")


def test_edges_of_the_ranges_are_accepted() -> None:
    flavor = {
        "version": "Standard",
        "extend_eip_count": 2000,
        "extend_bandwidth": 5000,
        "extend_vpc_count": 100,
    }
    for period_type, top in (("month", 9), ("year", 3)):
        for num in (1, top):
            charge = {"charge_mode": "prePaid", "period_type": period_type, "period_num": num}
            assert body(flavor=flavor, charge_info=charge)["charge_info"]["period_num"] == num
    prepaid = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1}
    assert body(flavor={"version": "Professional", "extend_bandwidth": 0}, charge_info=prepaid)["flavor"] == {
        "version": "Professional",
        "extend_bandwidth": 0,
    }


@pytest.mark.parametrize("key", ["extend_eip_count", "extend_bandwidth", "extend_vpc_count"])
def test_extend_counts_are_refused_for_postpaid(key: str) -> None:
    # CreateFirewallReqFlavor: the extend_* counts "take effect only for prePaid".
    with pytest.raises(CfwConfigError, match=rf"^flavor\.{key}: expected .*only for prePaid\), got 0"):
        body(flavor={"version": "Professional", key: 0})
    with pytest.raises(CfwConfigError, match=rf"^flavor\.{key}: expected"):
        body(flavor={"version": "Professional", key: 5}, charge_info={"charge_mode": "postPaid"})


def test_a_tag_without_a_value_is_sent_as_the_sdk_sends_it() -> None:
    tags = [{"key": "a"}, {"key": "b", "value": None}, {"key": "c", "value": ""}, ("d", None)]
    assert body(tags=tags)["tags"] == [{"key": "a"}, {"key": "b"}, {"key": "c", "value": ""}, {"key": "d"}]
    assert body(tags={"k": None})["tags"] == [{"key": "k"}]
    with pytest.raises(CfwConfigError, match=r"^tags\[0\]: expected"):
        body(tags=[{"key": "k", "value": 3}])


def test_client_token_is_a_32_character_uuid() -> None:
    token = "0123456789abcdef0123456789ABCDEF"
    assert validate_client_token(token) == token.lower()
    assert validate_client_token("01234567-89ab-cdef-0123-456789abcdef") == "0123456789abcdef0123456789abcdef"
    for bad in ("", "x" * 32, "0" * 31, "0" * 33, None, 7, "0123456789abcdef0123456789abcde-"):
        with pytest.raises(CfwConfigError, match=r"^client_token: expected a 32-character UUID"):
            validate_client_token(bad)
    sent = create_request(ENDPOINT, PROJECT, body(), token)
    assert sent.header("X-Client-Token") == token.lower()
    assert create_request(ENDPOINT, PROJECT, body()).header("X-Client-Token") is None


def test_body_keeps_the_sdk_model_order_and_drops_none() -> None:
    built = body(
        tags={"env": "prod"},
        enterprise_project_id="0",
        flavor={"version": "Professional", "extend_eip_count": None},
    )
    assert list(built) == ["name", "enterprise_project_id", "tags", "flavor", "charge_info"]
    assert built["tags"] == [{"key": "env", "value": "prod"}]
    assert built["flavor"] == {"version": "Professional"}
    assert built["charge_info"] == {"charge_mode": "postPaid"}  # the default: pay per use


def test_awaits_payment() -> None:
    prepaid = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1}
    assert awaits_payment(prepaid)
    assert not awaits_payment({**prepaid, "is_auto_pay": True})
    assert not awaits_payment({"charge_mode": "postPaid"})


@pytest.mark.parametrize("value", ["", "a/b", "../x", "a?b", None, "x" * 129])
def test_invalid_firewall_ids(value: object) -> None:
    with pytest.raises(CfwConfigError, match=r"^firewall_id: expected"):
        validate_firewall_id(value)


# -- requests --------------------------------------------------------------------------------------


def test_requests() -> None:
    create = create_request(ENDPOINT, PROJECT, body())
    assert (create.method, create.url) == ("POST", f"{ENDPOINT}/v2/{PROJECT}/firewall")
    assert json.loads(create.body)["name"] == "fw-prod_01"
    delete = delete_request(ENDPOINT, PROJECT, FIREWALL)
    assert (delete.method, delete.url, delete.body) == (
        "DELETE",
        f"{ENDPOINT}/v2/{PROJECT}/firewall/{FIREWALL}",
        b"",
    )
    listing = list_request(ENDPOINT, PROJECT, key_word="fw", limit=50, offset=100, enterprise_project_id="0")
    assert listing.url == f"{ENDPOINT}/v1/{PROJECT}/firewalls/list?enterprise_project_id=0"
    assert json.loads(listing.body) == {
        "enterprise_project_id": "0",
        "key_word": "fw",
        "limit": 50,
        "offset": 100,
    }


# -- the same requests as the official SDK ----------------------------------------------------------


def _sdk_request(http_info: dict[str, Any], client: Any) -> Any:
    """The SDK's own signed request, built as ``do_http_request`` builds it, without sending it."""
    info = http_info
    return client.build_future_request(
        info["method"],
        info["resource_path"],
        info["path_params"],
        info["query_params"],
        info["header_params"],
        info["body"],
        info["post_params"],
        info["cname"],
        info["response_type"],
        info["collection_formats"],
        None,
    ).result()


@pytest.fixture
def sdk(sdk_home: None) -> Any:
    # Not importorskip: the SDK is a locked test dependency, so its absence is a failure.
    v1 = importlib.import_module("huaweicloudsdkcfw.v1")
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    client = (
        v1.CfwClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([ENDPOINT])
        .build()
    )
    return v1, client


def _assert_same(ours: HttpRequest, theirs: Any) -> None:
    """Same URL, same body bytes, and the same signature for the same headers and time."""
    assert ours.url == f"{ENDPOINT}{theirs.uri}"
    their_body = theirs.body.encode() if isinstance(theirs.body, str) else (theirs.body or b"")
    assert ours.body == their_body
    headers = {
        k: v for k, v in theirs.header_params.items() if k not in ("Authorization", "X-Project-Id", "Host")
    }
    signed = sign_request(
        HttpRequest(ours.method, ours.url, headers, ours.body), AkSkCredentials(AK, SK), project_id=PROJECT
    )
    assert signed.headers["Authorization"] == theirs.header_params["Authorization"]


@pytest.mark.sdk
def test_create_is_the_sdks_request(sdk: Any) -> None:
    v1, client = sdk
    ours = create_request(
        ENDPOINT,
        PROJECT,
        body(
            enterprise_project_id="0",
            tags=[{"key": "env", "value": "prod"}, {"key": "bare"}],
            flavor={
                "version": "Standard",
                "extend_eip_count": 5,
                "extend_bandwidth": 10,
                "extend_vpc_count": 1,
            },
            charge_info={
                "charge_mode": "prePaid",
                "period_type": "year",
                "period_num": 1,
                "is_auto_renew": False,
                "is_auto_pay": True,
            },
        ),
    )
    request = v1.CreateFirewallRequest(
        body=v1.CreateFirewallReq(
            name="fw-prod_01",
            enterprise_project_id="0",
            tags=[v1.CreateFirewallReqTags(key="env", value="prod"), v1.CreateFirewallReqTags(key="bare")],
            flavor=v1.CreateFirewallReqFlavor(
                version="Standard", extend_eip_count=5, extend_bandwidth=10, extend_vpc_count=1
            ),
            charge_info=v1.CreateFirewallReqChargeInfo(
                charge_mode="prePaid", period_type="year", period_num=1, is_auto_renew=False, is_auto_pay=True
            ),
        )
    )
    theirs = _sdk_request(client._create_firewall_http_info(request), client)
    assert theirs.method == "POST"
    _assert_same(ours, theirs)


@pytest.mark.sdk
def test_create_with_non_ascii_name_is_the_sdks_request(sdk: Any) -> None:
    v1, client = sdk
    ours = create_request(ENDPOINT, PROJECT, body(name="防火墙-1"))
    request = v1.CreateFirewallRequest(
        body=v1.CreateFirewallReq(
            name="防火墙-1",
            flavor=v1.CreateFirewallReqFlavor(version="Professional"),
            charge_info=v1.CreateFirewallReqChargeInfo(charge_mode="postPaid"),
        )
    )
    _assert_same(ours, _sdk_request(client._create_firewall_http_info(request), client))


@pytest.mark.sdk
def test_delete_is_the_sdks_request(sdk: Any) -> None:
    v1, client = sdk
    theirs = _sdk_request(
        client._delete_firewall_http_info(v1.DeleteFirewallRequest(resource_id=FIREWALL)), client
    )
    assert theirs.method == "DELETE"
    _assert_same(delete_request(ENDPOINT, PROJECT, FIREWALL), theirs)


@pytest.mark.sdk
def test_list_is_the_sdks_request(sdk: Any) -> None:
    v1, client = sdk
    request = v1.ListFirewallListRequest(
        enterprise_project_id="0",
        body=v1.QueryFireWallInstanceDto(
            enterprise_project_id="0", key_word="fw prod/1", limit=1024, offset=0
        ),
    )
    theirs = _sdk_request(client._list_firewall_list_http_info(request), client)
    ours = list_request(
        ENDPOINT, PROJECT, key_word="fw prod/1", limit=1024, offset=0, enterprise_project_id="0"
    )
    _assert_same(ours, theirs)


# -- answers ---------------------------------------------------------------------------------------


def answer(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse.of(
        status, {"X-Request-Id": "req-1", "Content-Type": "application/json"}, json.dumps(payload).encode()
    )


def test_parse_create() -> None:
    created = parse_create_response(answer({"job_id": "job-1", "order_id": None, "data": {"name": "fw"}}))
    assert (created.job_id, created.order_id, created.request_id) == ("job-1", None, "req-1")
    assert parse_create_response(answer({"order_id": "CS1"})).job_id is None
    with pytest.raises(CfwResponseError, match="neither job_id nor order_id"):
        parse_create_response(answer({"data": {}}))


def test_parse_delete() -> None:
    assert parse_delete_response(answer({"data": "job-2"})).job_id == "job-2"
    with pytest.raises(CfwResponseError):
        parse_delete_response(answer({"data": {"id": "job-2"}}))


def test_error_answers_are_classified() -> None:
    with pytest.raises(CfwApiError) as info:
        parse_delete_response(
            answer({"error_code": "CFW.00200005", "error_msg": "object does not exist"}, 400)
        )
    assert info.value.error_code == "CFW.00200005"


def test_parse_list_uses_fw_instance_name_not_the_timestamp_name() -> None:
    records = [
        {"fw_instance_id": "a", "name": "1700000000000", "fw_instance_name": "fw", "status": 2},
        {"resource_id": "b", "name": "fw-old", "status": "4"},
        {"fw_instance_id": "c", "fw_instance_name": "fw-2", "status": None},
    ]
    page = parse_list_response(answer({"data": {"total": 7, "records": records}}))
    assert page.total == 7
    assert [(f.id, f.name, f.status) for f in page.firewalls] == [
        ("a", "fw", 2),
        ("b", "fw-old", 4),
        ("c", "fw-2", None),
    ]
    assert page.firewalls[0].to_dict() == {
        "id": "a",
        "name": "fw",
        "status": 2,
        "status_text": "running",
        "charge_mode": None,
    }
    assert page.firewalls[2].status_text == "unknown"


def test_parse_list_reads_the_charge_mode() -> None:
    records = [
        {"fw_instance_id": "a", "fw_instance_name": "fw", "status": 2, "charge_mode": 0},
        {"fw_instance_id": "b", "fw_instance_name": "fw", "status": 2, "charge_mode": "1"},
        {"fw_instance_id": "c", "fw_instance_name": "fw", "status": 2, "charge_mode": True},
    ]
    firewalls = parse_list_response(answer({"data": {"total": 3, "records": records}})).firewalls
    assert [(f.charge_mode, f.prepaid) for f in firewalls] == [(0, True), (1, False), (None, False)]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"data": []},
        {"data": {"records": {}}},
        {"data": {"records": [{"name": "no id"}]}},
        {"data": {"total": "3"}},
    ],
)
def test_parse_list_refuses_malformed_answers(payload: Any) -> None:
    with pytest.raises(CfwResponseError):
        parse_list_response(answer(payload))


def test_named_is_exact_and_skips_deleted() -> None:
    firewalls = [
        CfwFirewall("1", "fw", 2),
        CfwFirewall("2", "fw-2", 2),
        CfwFirewall("3", "fw", 4),
        CfwFirewall("4", "FW", 0),
    ]
    assert [f.id for f in named(firewalls, "fw")] == ["1"]


# -- the idempotency token ---------------------------------------------------------------------------

TOKEN_INPUTS: dict[str, Any] = {
    "dag_id": "d",
    "run_id": "manual__1",
    "task_id": "create",
    "map_index": -1,
    "project_id": None,
    "body": {"name": "fw", "flavor": {"version": "Professional"}, "charge_info": {"charge_mode": "postPaid"}},
}


def test_the_client_token_is_stable_and_32_hex_characters() -> None:
    token = client_token(**TOKEN_INPUTS)
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert client_token(**TOKEN_INPUTS) == token  # every try of one task instance: the same token
    assert client_token(**{**TOKEN_INPUTS, "map_index": None}) == token  # None is "not mapped"
    assert client_token(**TOKEN_INPUTS, clear_number=0) == token  # never cleared
    assert validate_client_token(token) == token
    # Key order in the body does not matter (canonical JSON); a value does.
    reordered = {**TOKEN_INPUTS, "body": dict(reversed(list(TOKEN_INPUTS["body"].items())))}
    assert client_token(**reordered) == token


@pytest.mark.parametrize(
    "change",
    [
        {"dag_id": "d2"},
        {"run_id": "manual__2"},
        {"task_id": "create2"},
        {"map_index": 0},
        {"project_id": "0123456789abcdef0123456789abcdef"},
        {"body": {**TOKEN_INPUTS["body"], "name": "fw-2"}},
        {"clear_number": 1},
    ],
)
def test_every_input_of_the_client_token_changes_it(change: dict[str, Any]) -> None:
    assert client_token(**{**TOKEN_INPUTS, **change}) != client_token(**TOKEN_INPUTS)


def test_with_id_is_exact_and_skips_deleted_records() -> None:
    firewalls = [CfwFirewall("a-1", "fw", 4), CfwFirewall("a", "fw", 4), CfwFirewall("a-2", "fw", 2)]
    assert with_id(firewalls, "a") is None  # the only exact match is deleted
    assert with_id(firewalls, "a-2") == firewalls[2]
    assert with_id([*firewalls, CfwFirewall("a", "fw", 2)], "a") == CfwFirewall("a", "fw", 2)
