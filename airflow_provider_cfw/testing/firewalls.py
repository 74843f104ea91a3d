"""Emulated firewalls: CreateFirewall, DeleteFirewall and ListFirewallList, each backed by a job.

A created firewall is ``creating`` (0) until its job succeeds, then ``running`` (2), or ``create
failed`` (6) if the job fails. A deleted one is ``deleting`` (1) until its job succeeds, then it is
gone from the list, or ``delete failed`` (7). Jobs follow :attr:`FirewallRegistry.job_script`: by
default they run for :data:`DEFAULT_FIREWALL_JOB_SECONDS` of emulator time (minutes, as a real
creation does), then succeed whether or not anyone polls them. Tests that want them done at once say
so: ``CfwEmulator(firewall_job_seconds=FAST_FIREWALL_JOB_SECONDS)``, as the ``cfw_emulator`` fixture
does, or :meth:`~airflow_provider_cfw.testing.emulator.CfwEmulator.script_firewall_jobs`.

As the API reference says, only a postPaid create answers with a ``job_id``. A prePaid order answers
with an ``order_id`` only: without ``is_auto_pay`` the firewall stays ``awaiting payment`` (-1); with
it, the firewall goes ``creating`` -> ``running`` (or ``create failed``) along the same script, its
hidden job advanced by each listing that shows it when the script counts polls. DeleteFirewall
refuses a prePaid firewall ("takes effect only for pay-per-use firewalls").

``X-Client-Token``: a create repeating a token gets the first answer again and creates nothing.
:attr:`FirewallRegistry.list_lag` keeps a new firewall out of ListFirewallList for that many seconds,
as a real cloud does not promise to list it at once. :attr:`FirewallRegistry.list_deleted` lists a
deleted firewall as status 4 (deleted) instead of leaving it out.
"""

from __future__ import annotations

import copy
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cfw.testing.jobs import ScriptedJob, StatusScript
from airflow_provider_cfw.testing.state import EmulatorState

#: How long a firewall job runs, in emulator time, unless told otherwise: a real creation takes
#: minutes (Huawei's Terraform provider gives it 20), and a demo should show a wait that long.
DEFAULT_FIREWALL_JOB_SECONDS = 180.0
#: What tests use: a job done about a second after it starts.
FAST_FIREWALL_JOB_SECONDS = 1.0


def firewall_job_script(seconds: float) -> StatusScript:
    """``Running`` for ``seconds`` of emulator time, then ``Success`` for ever.

    :param seconds: how long the job runs; a finite number, 0 or more.
    :raises ValueError: naming ``firewall_job_seconds`` and what it must be.
    """
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ValueError(
            f"firewall_job_seconds must be a finite number of seconds, 0 or more; got {seconds!r}"
        )
    return (("Running", float(seconds)), ("Success", None))


#: ``(status, seconds)``: running for :data:`DEFAULT_FIREWALL_JOB_SECONDS`, then done for ever.
DEFAULT_JOB_SCRIPT: StatusScript = firewall_job_script(DEFAULT_FIREWALL_JOB_SECONDS)
#: ``(status, seconds)``: running for :data:`FAST_FIREWALL_JOB_SECONDS`, then done for ever.
FAST_JOB_SCRIPT: StatusScript = firewall_job_script(FAST_FIREWALL_JOB_SECONDS)
_NAME = re.compile(r"^[\u4e00-\u9fa5A-Za-z0-9_-]{1,48}$")
_VERSIONS = {"Standard": 0, "Professional": 1}
#: What the emulator answers a DeleteFirewall of a prePaid firewall with (400).
PREPAID_DELETE_CODE = "CFW.00200001"


class FirewallRequestError(ValueError):
    """A request CFW would refuse with 400; ``code`` is its ``error_code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class EmulatedFirewall:
    """One firewall of one project, with the jobs that change it."""

    id: str
    project_id: str
    name: str
    created_at: float
    version: int
    charge_mode: int  # 0 prePaid, 1 postPaid, as FirewallInstanceVO
    enterprise_project_id: str
    tags: list[dict[str, str]] = field(default_factory=list)
    create_job: ScriptedJob | None = None
    delete_job: ScriptedJob | None = None
    awaiting_payment: bool = False

    @property
    def prepaid(self) -> bool:
        return self.charge_mode == 0

    def status(self, now: float) -> int | None:
        """The current status; ``None`` once a successful delete job removed it."""
        if self.delete_job is not None:
            outcome = self.delete_job.status_at(now)
            return None if outcome == "Success" else 7 if outcome == "Failed" else 1
        if self.awaiting_payment:
            return -1
        if self.create_job is None:
            return 2
        outcome = self.create_job.status_at(now)
        return 2 if outcome == "Success" else 6 if outcome == "Failed" else 0

    def record(self, status: int) -> dict[str, Any]:
        """``FirewallInstanceVO``: ``name`` is the creation timestamp, ``fw_instance_name`` the name."""
        return {
            "fw_instance_id": self.id,
            "resource_id": self.id,
            "name": str(int(self.created_at * 1000)),
            "fw_instance_name": self.name,
            "enterprise_project_id": self.enterprise_project_id,
            "ha_type": 1,
            "charge_mode": self.charge_mode,
            "service_type": 0,
            "engine_type": 0,
            "flavor": {"version": self.version, "eip_count": 50, "vpc_count": 2, "bandwidth": 50},
            "status": status,
            "tags": "{}",
        }


class FirewallRegistry:
    """The firewalls of every project, stored next to (and locked with) the rest of the account.

    :param state: the account; firewall jobs are registered in its job table, so
        ``GET /v3/{project_id}/jobs/{job_id}`` serves them like any scripted job.
    :param job_seconds: how long a job runs unless scripted otherwise (and again after :meth:`reset`).
    """

    def __init__(self, state: EmulatorState, job_seconds: float = DEFAULT_FIREWALL_JOB_SECONDS) -> None:
        self.state = state
        self.firewalls: dict[str, EmulatedFirewall] = {}
        #: The script of :attr:`job_seconds`, which :meth:`reset` restores.
        self.default_job_script = firewall_job_script(job_seconds)
        self.job_script: StatusScript = self.default_job_script
        #: How delete jobs go, if not as :attr:`job_script` (a failed create, then a delete that works).
        self.delete_job_script: StatusScript | None = None
        #: Every create that was carried out, even if its answer was lost (what billing would see).
        self.creates = 0
        #: Orders placed (one per prePaid create carried out).
        self.orders = 0
        #: Seconds (emulator time) a new firewall stays out of ListFirewallList.
        self.list_lag = 0.0
        #: List a deleted firewall as status 4 (deleted) instead of leaving it out, as CFW may.
        self.list_deleted = False
        #: ``(project_id, X-Client-Token)`` -> the first answer to a create carrying it.
        self.answers_by_token: dict[tuple[str, str], dict[str, Any]] = {}
        #: Creates answered from :attr:`answers_by_token` (nothing created).
        self.repeated_tokens = 0

    def reset(self) -> None:
        with self.state.lock:
            self.firewalls.clear()
            self.job_script = self.default_job_script
            self.delete_job_script = None
            self.creates = self.orders = self.repeated_tokens = 0
            self.list_lag = 0.0
            self.list_deleted = False
            self.answers_by_token.clear()

    def _new_job(
        self, project_id: str, *, listed: bool = True, script: StatusScript | None = None
    ) -> ScriptedJob:
        job_id = str(uuid.uuid4())
        job = ScriptedJob(job_id, script or self.job_script, begin_time=self.state.now())
        if listed:
            self.state.jobs[(project_id, job_id)] = job
        return job

    def create(self, project_id: str, body: object, client_token: str | None = None) -> dict[str, Any]:
        """Carry out CreateFirewall; returns the answer body (the first one again for a repeated token)."""
        if client_token is not None:
            with self.state.lock:
                first = self.answers_by_token.get((project_id, client_token))
                if first is not None:
                    self.repeated_tokens += 1
                    return copy.deepcopy(first)
        if not isinstance(body, dict):
            raise FirewallRequestError("CFW.00200001", "the request body is not a JSON object")
        name, flavor, charge = body.get("name"), body.get("flavor"), body.get("charge_info")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise FirewallRequestError("CFW.00200001", "invalid parameter: name")
        if not isinstance(flavor, dict) or flavor.get("version") not in _VERSIONS:
            raise FirewallRequestError("CFW.00200001", "invalid parameter: flavor.version")
        if not isinstance(charge, dict) or charge.get("charge_mode") not in ("prePaid", "postPaid"):
            raise FirewallRequestError("CFW.00200001", "invalid parameter: charge_info.charge_mode")
        prepaid = charge["charge_mode"] == "prePaid"
        with self.state.lock:
            firewall = EmulatedFirewall(
                id=str(uuid.uuid4()),
                project_id=project_id,
                name=name,
                created_at=self.state.now(),
                version=_VERSIONS[flavor["version"]],
                charge_mode=0 if prepaid else 1,
                enterprise_project_id=str(body.get("enterprise_project_id") or "0"),
                tags=list(body.get("tags") or []),
                awaiting_payment=prepaid and not charge.get("is_auto_pay", False),
            )
            if not firewall.awaiting_payment:
                # A prePaid firewall's creation has no job the API shows: it is not registered.
                firewall.create_job = self._new_job(project_id, listed=not prepaid)
            self.firewalls[firewall.id] = firewall
            self.creates += 1
            answer: dict[str, Any] = {"data": body}
            if prepaid:
                self.orders += 1
                answer["order_id"] = "CS" + uuid.uuid4().hex[:20].upper()
            else:
                assert firewall.create_job is not None
                answer["job_id"] = firewall.create_job.job_id
            if client_token is not None:
                self.answers_by_token[(project_id, client_token)] = copy.deepcopy(answer)
        return answer

    def delete(self, project_id: str, firewall_id: str) -> str | None:
        """Carry out DeleteFirewall; the job id, or ``None`` when there is no such firewall.

        :raises FirewallRequestError: the firewall is prePaid (unsubscribed in the console, not here).
        """
        with self.state.lock:
            firewall = self._live(project_id, firewall_id)
            if firewall is None:
                return None
            if firewall.prepaid:
                raise FirewallRequestError(
                    PREPAID_DELETE_CODE, "DeleteFirewall takes effect only for pay-per-use firewalls"
                )
            if firewall.delete_job is None or firewall.status(self.state.now()) == 7:
                firewall.delete_job = self._new_job(project_id, script=self.delete_job_script)
            # A second delete while the first runs answers with the same job, as an idempotent call.
            return firewall.delete_job.job_id

    def _live(self, project_id: str, firewall_id: str) -> EmulatedFirewall | None:
        firewall = self.firewalls.get(firewall_id)
        if firewall is None or firewall.project_id != project_id:
            return None
        if firewall.status(self.state.now()) is None:
            if not self.list_deleted:
                del self.firewalls[firewall_id]
            return None
        return firewall

    def page(
        self,
        project_id: str,
        key_word: str | None,
        limit: int,
        offset: int,
        enterprise_project_id: str | None = None,
    ) -> dict[str, Any]:
        """ListFirewallList's ``data``: ``key_word`` matches part of a name or an id, an enterprise
        project scopes the list; oldest first; firewalls younger than :attr:`list_lag` left out."""
        with self.state.lock:
            now = self.state.now()
            matches = []
            for firewall in sorted(self.firewalls.values(), key=lambda f: f.created_at):
                if firewall.project_id != project_id or now - firewall.created_at < self.list_lag:
                    continue
                if (
                    enterprise_project_id is not None
                    and firewall.enterprise_project_id != enterprise_project_id
                ):
                    continue
                if key_word and key_word not in firewall.name and key_word not in firewall.id:
                    continue
                if firewall.prepaid and firewall.create_job is not None and firewall.delete_job is None:
                    # The prePaid creation's hidden job: a listing that shows it counts as its poll.
                    firewall.create_job.poll(now)
                status = firewall.status(now)
                if status is None and not self.list_deleted:
                    continue
                matches.append(firewall.record(4 if status is None else status))
        return {
            "limit": limit,
            "offset": offset,
            "project_id": project_id,
            "total": len(matches),
            "records": matches[offset : offset + limit],
        }

    def named(self, name: str) -> list[EmulatedFirewall]:
        """Every firewall with this name that is not gone (for tests)."""
        with self.state.lock:
            now = self.state.now()
            return [f for f in self.firewalls.values() if f.name == name and f.status(now) is not None]
