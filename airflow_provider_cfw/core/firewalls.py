"""Firewall lifecycle calls (CreateFirewall, DeleteFirewall, ListFirewallList) as pure pieces.

Input validation, request builders and response parsers shared by the sync and async clients and by
the operators; nothing here does I/O. The answers' models and parsers live in
:mod:`~airflow_provider_cfw.core.firewall_answers` and are re-exported here. Field names, paths and ranges follow the official SDK's models
(``huaweicloudsdkcfw`` 3.1.219: ``CreateFirewallReq``, ``QueryFireWallInstanceDto``,
``FirewallInstanceVO``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_provider_cfw.core.api import api_request
from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.firewall_answers import (
    AWAITING_PAYMENT,
    CREATE_FAILED,
    CREATING,
    DELETED,
    DELETING,
    FIREWALL_STATUSES,
    MAX_LIST_PAGES,
    POSTPAID_CHARGE_MODE,
    PREPAID_CHARGE_MODE,
    RUNNING,
    CfwFirewall,
    CreatedFirewall,
    DeletedFirewall,
    FirewallPage,
    named,
    next_offset,
    parse_create_response,
    parse_delete_response,
    parse_list_response,
    with_id,
)
from airflow_provider_cfw.core.http import HttpRequest
from airflow_provider_cfw.core.validation import RESOURCE_ID, show_value

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


__all__ = [
    "AWAITING_PAYMENT",
    "CLIENT_TOKEN_HEADER",
    "CREATE_FAILED",
    "CREATING",
    "DELETED",
    "DELETING",
    "FIREWALL_STATUSES",
    "LIST_PAGE_MAX",
    "MAX_LIST_PAGES",
    "POSTPAID_CHARGE_MODE",
    "PREPAID_CHARGE_MODE",
    "RUNNING",
    "CfwFirewall",
    "CreatedFirewall",
    "DeletedFirewall",
    "FirewallPage",
    "awaits_payment",
    "create_firewall_body",
    "create_request",
    "delete_request",
    "list_request",
    "named",
    "next_offset",
    "parse_create_response",
    "parse_delete_response",
    "parse_list_response",
    "validate_client_token",
    "validate_enterprise_project_id",
    "validate_firewall_id",
    "validate_firewall_name",
    "validate_list_arguments",
    "with_id",
]
