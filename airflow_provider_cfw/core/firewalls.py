"""The firewall lifecycle calls (CreateFirewall, DeleteFirewall, ListFirewallList) as pure pieces.

Input validation, request builders, the answers' models and parsers, and the calls built from them;
shared by the sync and async clients, the operators and the triggers; nothing here does I/O. Field
names, paths and ranges follow the official SDK's models (``huaweicloudsdkcfw`` 3.1.219:
``CreateFirewallReq``, ``QueryFireWallInstanceDto``, ``FirewallInstanceVO``,
``CreateFirewallResponse``, ``DeleteFirewallResponse``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cfw.core.calls import Call, Plan, api_request, json_body
from airflow_provider_cfw.core.errors import CfwConfigError, CfwResponseError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.validation import RESOURCE_ID, show_value

#: ``FirewallInstanceVO.status``.
FIREWALL_STATUSES: dict[int, str] = {
    -1: "awaiting payment",
    0: "creating",
    1: "deleting",
    2: "running",
    3: "upgrading",
    4: "deleted",
    5: "freezing",
    6: "create failed",
    7: "delete failed",
    8: "freeze failed",
    9: "storing",
    10: "storing failed",
    11: "upgrade failed",
}
AWAITING_PAYMENT, CREATING, DELETING, RUNNING, DELETED, CREATE_FAILED = -1, 0, 1, 2, 4, 6
#: ``FirewallInstanceVO.charge_mode``: 0 yearly/monthly (prePaid), 1 pay per use (postPaid).
PREPAID_CHARGE_MODE, POSTPAID_CHARGE_MODE = 0, 1

#: Pages :func:`next_offset` lets a listing follow at most (1024 x 100 firewalls): a server that
#: keeps answering full pages must not keep a task looping for ever.
MAX_LIST_PAGES = 100


@dataclass(frozen=True)
class CfwFirewall:
    """One firewall as ListFirewallList reports it.

    :param id: ``fw_instance_id`` (the same as ``resource_id``): what DeleteFirewall takes.
    :param name: the firewall's name (``fw_instance_name``; the record's ``name`` is a timestamp).
    :param status: the numeric status (see :data:`FIREWALL_STATUSES`).
    :param charge_mode: ``0`` prePaid (yearly/monthly), ``1`` postPaid (pay per use), ``None`` unknown.
    :param raw: the record as received.
    """

    id: str
    name: str
    status: int | None
    charge_mode: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def prepaid(self) -> bool:
        """A yearly/monthly firewall: DeleteFirewall refuses it; it is unsubscribed in the console."""
        return self.charge_mode == PREPAID_CHARGE_MODE

    @property
    def status_text(self) -> str:
        if self.status is None:
            return "unknown"
        return FIREWALL_STATUSES.get(self.status, f"unknown ({self.status})")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CfwFirewall:
        firewall_id = record.get("fw_instance_id") or record.get("resource_id")
        if not isinstance(firewall_id, str) or not firewall_id:
            raise ValueError("a record has no fw_instance_id")
        # FirewallInstanceVO documents ``name`` as the creation timestamp and ``fw_instance_name`` as
        # the name; fall back to ``name`` only when the latter is missing.
        name = record.get("fw_instance_name")
        if not isinstance(name, str):
            name = record.get("name") if isinstance(record.get("name"), str) else ""
        return cls(
            id=firewall_id,
            name=str(name),
            status=_record_int(record.get("status")),
            charge_mode=_record_int(record.get("charge_mode")),
            raw=dict(record),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "status_text": self.status_text,
            "charge_mode": self.charge_mode,
        }


def creation_result(
    *,
    firewall_id: str | None,
    status: int | None,
    name: str,
    job_id: str | None,
    order_id: str | None,
    reused: bool,
) -> dict[str, Any]:
    """What a firewall creation returns (the create operator's XCom), whoever ends the task: plain JSON.

    :param firewall_id: the firewall's id, ``None`` if it is not listed.
    :param status: its numeric status (:data:`FIREWALL_STATUSES`), ``None`` if it is not listed.
    :param name: the name it was ordered with.
    :param job_id: the creation job (postPaid), ``None`` when nothing was created or for prePaid.
    :param order_id: the order (prePaid).
    :param reused: whether an existing firewall was returned instead of a new one.
    """
    return {
        "firewall_id": firewall_id,
        "job_id": job_id,
        "name": name,
        "order_id": order_id,
        "status": status,
        "reused": reused,
    }


def _record_int(value: object) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class FirewallPage:
    """One page of ListFirewallList: the total across pages and this page's firewalls."""

    total: int
    firewalls: list[CfwFirewall]


@dataclass(frozen=True)
class CreatedFirewall:
    """The answer to CreateFirewall.

    :param job_id: the creation job (``None`` if CFW started none, e.g. an order awaiting payment).
    :param order_id: the order, for prePaid firewalls.
    :param request_id: the ``X-Request-Id`` of the answer.
    """

    job_id: str | None
    order_id: str | None
    request_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class DeletedFirewall:
    """The answer to DeleteFirewall: its job id (``data``)."""

    job_id: str
    request_id: str | None = None


def _malformed(response: HttpResponse, what: str) -> CfwResponseError:
    return CfwResponseError(response.status, None, what, request_id=response.request_id)


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_create_response(response: HttpResponse) -> CreatedFirewall:
    payload = json_body(response)
    job_id, order_id = _optional_text(payload.get("job_id")), _optional_text(payload.get("order_id"))
    if job_id is None and order_id is None:
        raise _malformed(response, "CreateFirewall answered with neither job_id nor order_id")
    data = payload.get("data")
    return CreatedFirewall(
        job_id, order_id, response.request_id, dict(data) if isinstance(data, dict) else {}
    )


def parse_delete_response(response: HttpResponse) -> DeletedFirewall:
    payload = json_body(response)
    job_id = _optional_text(payload.get("data"))
    if job_id is None:
        raise _malformed(response, "DeleteFirewall answered without a job id in 'data'")
    return DeletedFirewall(job_id, response.request_id)


def parse_list_response(response: HttpResponse) -> FirewallPage:
    payload = json_body(response)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _malformed(response, "the answer has no 'data' object")
    records = data.get("records")
    records = [] if records is None else records
    total = data.get("total")
    if not isinstance(records, list) or (total is not None and not isinstance(total, int)):
        raise _malformed(response, "data.records is not a list or data.total is not a number")
    try:
        firewalls = [CfwFirewall.from_record(r) for r in records if isinstance(r, dict)]
    except ValueError as err:
        raise _malformed(response, str(err)) from None
    return FirewallPage(total if isinstance(total, int) else len(firewalls), firewalls)


def named(firewalls: list[CfwFirewall], name: str) -> list[CfwFirewall]:
    """The firewalls called exactly ``name`` (``key_word`` matches parts of names), deleted ones left out."""
    return [f for f in firewalls if f.name == name and f.status != DELETED]


def with_id(firewalls: list[CfwFirewall], firewall_id: str) -> CfwFirewall | None:
    """The firewall with exactly this id (``key_word`` matches parts of ids), unless it is deleted."""
    return next((f for f in firewalls if f.id == firewall_id and f.status != DELETED), None)


def next_offset(page: FirewallPage, offset: int, pages_read: int) -> int | None:
    """Where the next page starts, or ``None`` after the last one (shared by the sync and async paging).

    :raises CfwResponseError: the answers keep coming past :data:`MAX_LIST_PAGES` pages.
    """
    following = offset + len(page.firewalls)
    if not page.firewalls or following >= page.total:
        return None
    if pages_read >= MAX_LIST_PAGES:
        raise CfwResponseError(200, None, f"ListFirewallList did not end within {MAX_LIST_PAGES} pages")
    return following


# ---- input ----------------------------------------------------------------------------------------

VERSIONS = ("Standard", "Professional")
CHARGE_MODES = ("prePaid", "postPaid")
#: ``period_type`` -> the allowed ``period_num`` range.
PERIODS: dict[str, tuple[int, int]] = {"month": (1, 9), "year": (1, 3)}
#: ``flavor`` extension -> (minimum, maximum, step).
EXTEND_RANGES: dict[str, tuple[int, int, int]] = {
    "extend_eip_count": (0, 2000, 1),
    "extend_bandwidth": (0, 5000, 5),
    "extend_vpc_count": (0, 100, 1),
}
LIST_PAGE_MAX = 1024
#: CreateFirewall's idempotency header: a client-made 32-character UUID.
CLIENT_TOKEN_HEADER = "X-Client-Token"  # noqa: S105 (a header name, not a secret)

# UpdateFirewallNameDto: Chinese or English letters, digits, '_' and '-', 1 to 48 characters.
_NAME = re.compile(r"^[\u4e00-\u9fa5A-Za-z0-9_-]{1,48}$")
_ENTERPRISE_PROJECT = re.compile(r"^(0|[A-Za-z0-9][A-Za-z0-9-]{0,63})$")


def validate_firewall_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise CfwConfigError(
            field,
            "a firewall name of 1 to 48 characters: Chinese or English letters, digits, '_' or '-'",
            got=show_value(value),
        )
    return value


def validate_firewall_id(value: object, field: str = "firewall_id") -> str:
    if not isinstance(value, str) or not RESOURCE_ID.fullmatch(value):
        raise CfwConfigError(
            field,
            "a firewall id (fw_instance_id, a UUID: letters, digits, '-' or '_')",
            got=show_value(value),
        )
    return value


def validate_client_token(value: object, field: str = "client_token") -> str:
    """A 32-character UUID, as CreateFirewall's ``X-Client-Token`` wants (a dashed UUID is accepted)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}", value):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            pass
    raise CfwConfigError(field, "a 32-character UUID, e.g. uuid.uuid4().hex", got=show_value(value))


def validate_enterprise_project_id(value: object, field: str = "enterprise_project_id") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ENTERPRISE_PROJECT.fullmatch(value):
        raise CfwConfigError(
            field, "an enterprise project id (a UUID, or '0' for the default)", got=show_value(value)
        )
    return value


def _int_in(value: object, field: str, low: int, high: int, step: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high or value % step:
        expected = f"an integer from {low} to {high}" + (f" in steps of {step}" if step > 1 else "")
        raise CfwConfigError(field, expected, got=show_value(value))
    return value


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise CfwConfigError(field, "true or false", got=show_value(value))
    return value


def _no_unknown_keys(value: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise CfwConfigError(f"{field}.{unknown[0]}", f"one of the keys {', '.join(allowed)}")


def validate_flavor(value: object, charge_mode: str, field: str = "flavor") -> dict[str, Any]:
    """``CreateFirewallReqFlavor`` as the SDK serialises it (model key order, no ``None`` values)."""
    if not isinstance(value, Mapping):
        raise CfwConfigError(
            field, "a mapping with 'version' and optional extend_* counts", got=show_value(value)
        )
    _no_unknown_keys(value, ("version", *EXTEND_RANGES), field)
    version = value.get("version")
    if version not in VERSIONS:
        raise CfwConfigError(f"{field}.version", " or ".join(map(repr, VERSIONS)), got=show_value(version))
    if charge_mode == "postPaid" and version != "Professional":
        # CreateFirewallReqFlavor: pay-per-use firewalls come in the Professional edition only.
        raise CfwConfigError(
            f"{field}.version", "'Professional' for a postPaid firewall", got=show_value(version)
        )
    flavor: dict[str, Any] = {"version": version}
    for key, (low, high, step) in EXTEND_RANGES.items():
        if value.get(key) is not None:
            if charge_mode == "postPaid":
                # CreateFirewallReqFlavor: the extend_* counts "take effect only for prePaid".
                raise CfwConfigError(
                    f"{field}.{key}",
                    "no extend_* count for a postPaid firewall (they take effect only for prePaid)",
                    got=show_value(value[key]),
                )
            flavor[key] = _int_in(value[key], f"{field}.{key}", low, high, step)
    return flavor


def validate_charge_info(value: object, field: str = "charge_info") -> dict[str, Any]:
    """``CreateFirewallReqChargeInfo``; ``None`` means pay-per-use (``postPaid``)."""
    if value is None:
        return {"charge_mode": "postPaid"}
    if not isinstance(value, Mapping):
        raise CfwConfigError(
            field, "a mapping with 'charge_mode' (prePaid or postPaid)", got=show_value(value)
        )
    _no_unknown_keys(
        value, ("charge_mode", "period_type", "period_num", "is_auto_renew", "is_auto_pay"), field
    )
    mode = value.get("charge_mode")
    if mode not in CHARGE_MODES:
        raise CfwConfigError(
            f"{field}.charge_mode", " or ".join(map(repr, CHARGE_MODES)), got=show_value(mode)
        )
    charge: dict[str, Any] = {"charge_mode": mode}
    period_type = value.get("period_type")
    period_num = value.get("period_num")
    if mode == "prePaid" or period_type is not None or period_num is not None:
        if period_type not in PERIODS:
            raise CfwConfigError(
                f"{field}.period_type",
                "'month' or 'year' (required for prePaid)",
                got=show_value(period_type),
            )
        low, high = PERIODS[period_type]
        if period_num is None:
            raise CfwConfigError(
                f"{field}.period_num", f"an integer from {low} to {high} (required for prePaid)"
            )
        charge["period_type"] = period_type
        charge["period_num"] = _int_in(period_num, f"{field}.period_num", low, high)
    for key in ("is_auto_renew", "is_auto_pay"):
        if value.get(key) is not None:
            charge[key] = _bool(value[key], f"{field}.{key}")
    return charge


def validate_tags(value: object, field: str = "tags") -> list[dict[str, str]] | None:
    """``[{key, value}]``; a plain ``{key: value}`` mapping is accepted too. A tag without a value
    (``None`` or left out) is sent as ``{"key": k}``, as the SDK serialises ``CreateFirewallReqTags``."""
    if value is None:
        return None
    items = list(value.items()) if isinstance(value, Mapping) else value
    if not isinstance(items, list | tuple):
        raise CfwConfigError(
            field, "a list of {'key': ..., 'value': ...} or a mapping", got=show_value(value)
        )
    tags: list[dict[str, str]] = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            key, text = item.get("key"), item.get("value")
        elif isinstance(item, tuple) and len(item) == 2:
            key, text = item
        else:
            raise CfwConfigError(
                f"{field}[{index}]", "a {'key': ..., 'value': ...} mapping", got=show_value(item)
            )
        if not isinstance(key, str) or not key or not (text is None or isinstance(text, str)):
            raise CfwConfigError(
                f"{field}[{index}]",
                "a non-empty string key and a string value (or none)",
                got=show_value(item),
            )
        tags.append({"key": key} if text is None else {"key": key, "value": text})
    return tags


def create_firewall_body(
    *,
    name: object,
    flavor: object,
    charge_info: object = None,
    enterprise_project_id: object = None,
    tags: object = None,
) -> dict[str, Any]:
    """The validated ``CreateFirewallReq``, keys in the SDK model's order and ``None`` left out, so
    the JSON bytes (and so the signed body hash) are those the official SDK would send."""
    charge = validate_charge_info(charge_info)
    body: dict[str, Any] = {"name": validate_firewall_name(name)}
    project = validate_enterprise_project_id(enterprise_project_id)
    if project is not None:
        body["enterprise_project_id"] = project
    checked_tags = validate_tags(tags)
    if checked_tags is not None:
        body["tags"] = checked_tags
    body["flavor"] = validate_flavor(flavor, charge["charge_mode"])
    body["charge_info"] = charge
    return body


def awaits_payment(charge_info: Mapping[str, Any]) -> bool:
    """A prePaid order without auto-pay stays unpaid (status -1) until someone pays it in the console."""
    return charge_info.get("charge_mode") == "prePaid" and not charge_info.get("is_auto_pay", False)


# ---- requests -------------------------------------------------------------------------------------


def create_request(
    endpoint: str, project_id: str, body: Mapping[str, Any], client_token: str | None = None
) -> HttpRequest:
    """``POST /v2/{project_id}/firewall``, with the ``X-Client-Token`` idempotency header if given
    (set before signing: AK/SK signs it with the rest)."""
    request = api_request(endpoint, "POST", f"/v2/{project_id}/firewall", body=dict(body))
    if client_token is None:
        return request
    return request.with_headers({CLIENT_TOKEN_HEADER: validate_client_token(client_token)})


def delete_request(endpoint: str, project_id: str, firewall_id: str) -> HttpRequest:
    """``DELETE /v2/{project_id}/firewall/{resource_id}``, no body (as the SDK)."""
    return api_request(endpoint, "DELETE", f"/v2/{project_id}/firewall/{firewall_id}")


def list_request(
    endpoint: str,
    project_id: str,
    *,
    key_word: str | None = None,
    limit: int = LIST_PAGE_MAX,
    offset: int = 0,
    enterprise_project_id: str | None = None,
) -> HttpRequest:
    """``POST /v1/{project_id}/firewalls/list``: the enterprise project goes in the query and the body."""
    body: dict[str, Any] = {}
    if enterprise_project_id is not None:
        body["enterprise_project_id"] = enterprise_project_id
    if key_word is not None:
        body["key_word"] = key_word
    body["limit"] = limit
    body["offset"] = offset
    params = {"enterprise_project_id": enterprise_project_id} if enterprise_project_id is not None else None
    return api_request(endpoint, "POST", f"/v1/{project_id}/firewalls/list", params=params, body=body)


def validate_list_arguments(key_word: object, limit: object, enterprise_project_id: object) -> None:
    if key_word is not None and (not isinstance(key_word, str) or len(key_word) > 255):
        raise CfwConfigError("key_word", "part of a firewall name or id (a string)", got=show_value(key_word))
    _int_in(limit, "limit", 1, LIST_PAGE_MAX)
    validate_enterprise_project_id(enterprise_project_id)


# ---- calls ----------------------------------------------------------------------------------------


def create_call(
    endpoint: str, project_id: str, body: Mapping[str, Any], client_token: str | None = None
) -> Call[CreatedFirewall]:
    """CreateFirewall with a body from :func:`create_firewall_body`: never resent after a failure
    that may have reached CFW (the operator's next try looks the name up and sends the same token)."""
    request = create_request(endpoint, project_id, body, client_token)
    return Call(request, parse_create_response, project_id, idempotent=False)


def delete_call(endpoint: str, project_id: str, firewall_id: str) -> Call[DeletedFirewall]:
    return Call(delete_request(endpoint, project_id, firewall_id), parse_delete_response, project_id)


def list_plan(
    endpoint: str,
    project_id: str,
    *,
    key_word: str | None = None,
    page_size: int = LIST_PAGE_MAX,
    enterprise_project_id: str | None = None,
) -> Plan[list[CfwFirewall]]:
    """Every firewall matching ``key_word``, following ListFirewallList's pages (a POST, but a read:
    resending a page is harmless). Arguments already checked by :func:`validate_list_arguments`."""
    firewalls: list[CfwFirewall] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        request = list_request(
            endpoint,
            project_id,
            key_word=key_word,
            limit=page_size,
            offset=offset,
            enterprise_project_id=enterprise_project_id,
        )
        page: FirewallPage = yield Call(request, parse_list_response, project_id)
        pages += 1
        firewalls.extend(page.firewalls)
        offset = next_offset(page, offset, pages)
    return firewalls
