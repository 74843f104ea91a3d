"""Firewall answers (ListFirewallList records, CreateFirewall and DeleteFirewall answers): the
models and the parsers, shared by the sync and async clients, the operators and the trigger; no I/O.

Field names and values follow the official SDK's models (``huaweicloudsdkcfw`` 3.1.219:
``FirewallInstanceVO``, ``CreateFirewallResponse``, ``DeleteFirewallResponse``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cfw.core.api import json_body
from airflow_provider_cfw.core.errors import CfwResponseError
from airflow_provider_cfw.core.http import HttpResponse

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
