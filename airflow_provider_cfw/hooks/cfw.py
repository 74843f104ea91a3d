"""``CfwHook``: an Airflow connection turned into CFW calls (jobs, firewalls, any other), sync and
natively async."""

from __future__ import annotations

import time
import uuid
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_cfw.core.calls import any_call, validate_json, validate_method, validate_path
from airflow_provider_cfw.core.client import CfwClient
from airflow_provider_cfw.core.errors import CfwConfigError, CfwError, CfwJobNotFound
from airflow_provider_cfw.core.firewalls import (
    LIST_PAGE_MAX,
    create_call,
    create_firewall_body,
    delete_call,
    list_plan,
    validate_client_token,
    validate_enterprise_project_id,
    validate_firewall_id,
    validate_firewall_name,
    validate_list_arguments,
)
from airflow_provider_cfw.core.jobs import job_call
from airflow_provider_cfw.core.poll_schedule import PollSchedule
from airflow_provider_cfw.core.settings import CfwSettings
from airflow_provider_cfw.core.validation import validate_job_id
from airflow_provider_cfw.core.waits import (
    DEFAULT_MAX_TRANSIENT_ERRORS,
    JOB_NOT_FOUND_GRACE_SECONDS,
    FirewallGoal,
    FirewallWait,
    JobWait,
    Reading,
    WaitKind,
    WaitPace,
    firewall_outcome,
)
from airflow_provider_cfw.get_provider_info import UI_FIELD_BEHAVIOUR
from airflow_provider_cfw.hooks.connection_cache import ASYNC_CONNECTIONS, ConnectionFields

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import aiohttp

    from airflow_provider_cfw.core.firewalls import CfwFirewall, CreatedFirewall, DeletedFirewall
    from airflow_provider_cfw.core.models import CfwJob

T = TypeVar("T")
# Looked up at each call, so that tests can observe the pauses without waiting.
_sleep = time.sleep


async def _amask_secret(secret: str | list[Any]) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3: masking is local only, no round trip to a supervisor.
        mask_secret(secret)
    else:
        await amask_secret(secret)


#: Credential sets already given to the log masker by this process: a triggerer's hundreds of waits on
#: one connection hand it over once (on Airflow 3, each handover is a round trip to the supervisor).
_MASKED: set[tuple[str, ...]] = set()


def _unmasked(settings: CfwSettings) -> list[Any] | None:
    """The connection's credential values, the first time they are seen; ``None`` after that.

    Airflow masks the password field and the extras, not the login, which may hold the SK (AK and SK
    swapped) or a password.
    """
    secrets = settings.secrets
    if secrets in _MASKED:
        return None
    _MASKED.add(secrets)
    return list(secrets)


def _check_parsed(conn_id: str, conn: Any) -> None:
    """Refuse a connection whose URI form Airflow could not read as meant, naming the cause.

    ``huaweicloud_cfw://AK:SK@/?...`` is not a URI scheme (``_`` is not allowed in one): Airflow reads
    no type and no login, and keeps the rest, credentials included, as the schema (so it is never shown).
    """
    if not conn.conn_type and not conn.login and "@" in (conn.schema or ""):
        raise CfwConfigError(
            f"connection {conn_id!r} URI scheme",
            "'huaweicloud-cfw://' spelled with a hyphen (a URI scheme cannot contain '_': Airflow read "
            "neither the connection type nor the login from 'huaweicloud_cfw://')",
        )


def _firewall_target(
    name: str | None, firewall_id: str | None, enterprise_project_id: str | None
) -> dict[str, Any]:
    """Exactly one of ``name`` and ``firewall_id``, checked, with the enterprise project."""
    if (name is None) == (firewall_id is None):
        got = "both" if name is not None else "neither"
        raise CfwConfigError("firewall_id or name", "exactly one of firewall_id and name", got=got)
    return {
        "name": None if name is None else validate_firewall_name(name),
        "firewall_id": None if firewall_id is None else validate_firewall_id(firewall_id),
        "enterprise_project_id": validate_enterprise_project_id(enterprise_project_id),
    }


class CfwHook(BaseHook):
    """Interact with Huawei Cloud Firewall (CFW): create, list and delete firewalls, read the status of
    their asynchronous jobs, or make any other CFW call with :meth:`request`.

    The connection (type ``huaweicloud_cfw``; a ``huaweicloud`` connection works unchanged) holds the
    credentials: ``login``/``password`` are the AK/SK (``auth_type`` ``aksk``, the default), an IAM
    user name and password (``password``, with ``domain_name``) or a ready IAM token (``token``).
    Extras: ``region``, ``project_id``, ``security_token``, ``endpoint``, ``iam_endpoint``, ``verify``,
    ``proxy``, ``timeout``, ``max_retries``, ``retry_backoff``.

    Creating a hook touches neither the network nor the metadata database.

    :param cfw_conn_id: the Airflow connection id.
    :param region: overrides the connection's ``region`` extra.
    :param project_id: overrides the connection's ``project_id`` extra.
    :param timeout: connect and read timeout in seconds (default: 60 s connect, 120 s read).
    :param max_retries: retries of transient failures after the first try (default 3).
    """

    conn_name_attr = "cfw_conn_id"
    default_conn_name = "cfw_default"
    conn_type = "huaweicloud_cfw"
    hook_name = "Huawei Cloud Firewall (CFW)"

    def __init__(
        self,
        cfw_conn_id: str = default_conn_name,
        *,
        region: str | None = None,
        project_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.cfw_conn_id = cfw_conn_id
        self.region = region
        self.project_id = project_id
        self.timeout = timeout
        self.max_retries = max_retries
        # One slot, filled by whichever path looks the connection up first.
        self._client: CfwClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return UI_FIELD_BEHAVIOUR

    def _settings(self, login: str | None, password: str | None, extra: Mapping[str, Any]) -> CfwSettings:
        return CfwSettings.from_connection(
            self.cfw_conn_id,
            login=login,
            password=password,
            extra=extra,
            region=self.region,
            project_id=self.project_id,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _make_client(self, settings: CfwSettings) -> CfwClient:
        return CfwClient(settings, mask=mask_secret, amask=_amask_secret)

    @property
    def client(self) -> CfwClient:
        """The client for this connection, looked up (synchronously) on first use."""
        if self._client is None:
            conn = self.get_connection(self.cfw_conn_id)
            _check_parsed(self.cfw_conn_id, conn)
            settings = self._settings(conn.login, conn.password, conn.extra_dejson)
            if (secrets := _unmasked(settings)) is not None:
                mask_secret(secrets)
            self._client = self._make_client(settings)
        return self._client

    async def aclient(self) -> CfwClient:
        """The client, looked up without blocking the event loop on first use (see
        :mod:`~airflow_provider_cfw.hooks.connection_cache`: waits starting together share one lookup,
        and the settings built from it)."""
        if self._client is None:
            fields = await ASYNC_CONNECTIONS.get(self.cfw_conn_id, self._alookup)
            overrides = (self.region, self.project_id, self.timeout, self.max_retries)
            settings = fields.derive(
                overrides, lambda: self._settings(fields.login, fields.password, fields.extra)
            )
            if (secrets := _unmasked(settings)) is not None:
                await _amask_secret(secrets)
            self._client = self._make_client(settings)
        return self._client

    async def _alookup(self) -> ConnectionFields:
        conn = await get_async_connection(self.cfw_conn_id, hook=self)
        _check_parsed(self.cfw_conn_id, conn)
        return ConnectionFields(conn.login, conn.password, await get_async_extra_dejson(conn))

    @property
    def settings(self) -> CfwSettings:
        return self.client.settings

    def get_job(self, job_id: str, project_id: str | None = None) -> CfwJob:
        """Read a job's status (List Job Status), riding out transient failures.

        :param job_id: the job id CFW returned.
        :param project_id: overrides the hook's and connection's project.
        :raises CfwConfigError: bad input, before any request.
        :raises CfwJobNotFound: no such job in the project.
        :raises CfwApiError: any other error answer that retries did not cure.
        """
        job_id = validate_job_id(job_id)
        client = self.client
        return client.run(job_call(client.settings.endpoint, client.project_id(project_id), job_id))

    async def aget_job(self, job_id: str, project_id: str | None = None) -> CfwJob:
        """The natively async :meth:`get_job`, for triggers: no thread per call, one pool per loop."""
        job_id = validate_job_id(job_id)
        client = await self.aclient()
        return await client.arun(
            job_call(client.settings.endpoint, await client.aproject_id(project_id), job_id)
        )

    # ---- waits ----------------------------------------------------------------------------------------

    def wait(
        self,
        kind: WaitKind[T],
        *,
        poll_interval: float,
        timeout: float | None,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
        not_found_deadline: float | None = None,
        project_id: str | None = None,
        poll_growth: float = 0.0,
    ) -> Reading[T]:
        """Poll until ``kind`` ends, in this thread: the sync loop over the one wait definition
        (:mod:`~airflow_provider_cfw.core.waits`; the triggerer's loop is
        :class:`~airflow_provider_cfw.triggers.base.CfwPollingTrigger`).

        :param kind: what to wait for (:class:`~airflow_provider_cfw.core.waits.JobWait`,
            :class:`~airflow_provider_cfw.core.waits.FirewallWait`).
        :param poll_interval: seconds between polls.
        :param timeout: seconds before :class:`~airflow_provider_cfw.core.waits.CfwWaitTimeout`.
        :param max_transient_errors: failed polls in a row tolerated (each after the retries).
        :param not_found_deadline: wall-clock time until which "not visible yet" is waited on.
        :param project_id: overrides the hook's and connection's project.
        :param poll_growth: once the wait has run long, pause this share of the time waited (up to
            a minute) instead of ``poll_interval``; ``0``: every pause is ``poll_interval``.
        :returns: the last reading: its outcome is ``SUCCESS`` or ``FAILED``.
        :raises CfwError: the error that ended the wait.
        """
        client = self.client
        project = client.project_id(project_id)
        pace = WaitPace(
            kind,
            self.log,
            poll_interval=poll_interval,
            max_transient_errors=max_transient_errors,
            not_found_deadline=not_found_deadline,
            timeout=timeout,
            schedule=PollSchedule(poll_interval, poll_growth) if poll_growth else None,
        )
        while True:
            try:
                step = pace.after(client.run(kind.poll(client.settings.endpoint, project)))
            except CfwError as err:
                step = pace.after_error(err)
            if step.reading is not None:
                return step.reading
            if step.error is not None:
                raise step.error
            _sleep(step.delay)

    def wait_for_job(
        self,
        job_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = 60 * 60,
        not_found_grace_period: float = JOB_NOT_FOUND_GRACE_SECONDS,
        project_id: str | None = None,
        poll_growth: float = 0.0,
    ) -> CfwJob:
        """Wait in this thread until a job succeeds or fails; the final job (check its ``status``).

        :param job_id: the job id CFW returned.
        :param poll_interval: seconds between polls.
        :param timeout: seconds before :class:`~airflow_provider_cfw.core.waits.CfwWaitTimeout`.
        :param not_found_grace_period: seconds a new job may be invisible before not found is believed.
        :param project_id: overrides the hook's and connection's project.
        :param poll_growth: see :meth:`wait`.
        :raises CfwJobNotFound: the job was still not found after the grace period.
        """
        reading = self.wait(
            JobWait(validate_job_id(job_id)),
            poll_interval=poll_interval,
            timeout=timeout,
            not_found_deadline=time.time() + not_found_grace_period,
            project_id=project_id,
            poll_growth=poll_growth,
        )
        return reading.value

    def wait_for_firewall(
        self,
        goal: FirewallGoal | str,
        *,
        name: str | None = None,
        firewall_id: str | None = None,
        enterprise_project_id: str | None = None,
        poll_interval: float = 10.0,
        timeout: float | None = 60 * 60,
        project_id: str | None = None,
        poll_growth: float = 0.0,
    ) -> Reading[CfwFirewall | None]:
        """Wait in this thread until the firewall called ``name`` (or with ``firewall_id``) reaches ``goal``.

        :param goal: ``running`` (running, or ``FAILED`` when create failed), ``settled`` (neither
            creating nor deleting, or gone) or ``listed``.
        :param name: the firewall's exact name.
        :param firewall_id: the firewall's id, instead of ``name``.
        :param enterprise_project_id: look only in this enterprise project.
        :param poll_interval: seconds between polls.
        :param timeout: seconds before :class:`~airflow_provider_cfw.core.waits.CfwWaitTimeout`.
        :param project_id: overrides the hook's and connection's project.
        :param poll_growth: see :meth:`wait`.
        :returns: the last reading: its ``value`` is the firewall (``None``: gone).
        :raises CfwFirewallNameConflict: several firewalls have the name.
        """
        kind = FirewallWait(
            FirewallGoal(goal),
            **_firewall_target(name, firewall_id, enterprise_project_id),
        )
        return self.wait(
            kind, poll_interval=poll_interval, timeout=timeout, project_id=project_id, poll_growth=poll_growth
        )

    # ---- firewalls ----------------------------------------------------------------------------------

    def create_firewall(
        self,
        *,
        name: str,
        flavor: Mapping[str, Any],
        charge_info: Mapping[str, Any] | None = None,
        enterprise_project_id: str | None = None,
        tags: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
        project_id: str | None = None,
        client_token: str | None = None,
    ) -> CreatedFirewall:
        """Order a firewall (CreateFirewall); returns its job id and order id.

        Never sent twice by the hook's own retries: after a failure that may have reached CFW (a
        timeout, a reset after sending, a 502/504) the error is raised, and the caller should look the
        name up (:meth:`find_firewall`) before trying again, as :class:`CfwCreateFirewallOperator` does.
        Sending the same ``client_token`` again is safe on top of that: CFW answers a repeated
        ``X-Client-Token`` with the first answer and creates nothing, even when the new firewall is
        not listed yet. The operator derives one per task instance; used directly, pass your own
        (e.g. ``uuid.uuid4().hex``, kept across your tries).

        :param name: 1 to 48 Chinese or English letters, digits, ``_`` or ``-``.
        :param flavor: ``version`` (``Standard``/``Professional``) and optional ``extend_eip_count``
            (0-2000), ``extend_bandwidth`` (0-5000, steps of 5), ``extend_vpc_count`` (0-100).
        :param charge_info: ``charge_mode`` (``prePaid``/``postPaid``), ``period_type``
            (``month``/``year``), ``period_num`` (1-9 or 1-3), ``is_auto_renew``, ``is_auto_pay``;
            ``None`` means postPaid.
        :param enterprise_project_id: the enterprise project.
        :param tags: ``[{"key": ..., "value": ...}]`` or ``{key: value}``.
        :param project_id: overrides the hook's and connection's project.
        :param client_token: the ``X-Client-Token`` idempotency header, a 32-character UUID; none by
            default. An id, not a secret.
        :raises CfwConfigError: bad input, before any request.
        """
        body = create_firewall_body(
            name=name,
            flavor=flavor,
            charge_info=charge_info,
            enterprise_project_id=enterprise_project_id,
            tags=tags,
        )
        token = None if client_token is None else validate_client_token(client_token)
        client = self.client
        return client.run(create_call(client.settings.endpoint, client.project_id(project_id), body, token))

    async def acreate_firewall(
        self,
        *,
        name: str,
        flavor: Mapping[str, Any],
        charge_info: Mapping[str, Any] | None = None,
        enterprise_project_id: str | None = None,
        tags: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
        project_id: str | None = None,
        client_token: str | None = None,
    ) -> CreatedFirewall:
        """The natively async :meth:`create_firewall`."""
        body = create_firewall_body(
            name=name,
            flavor=flavor,
            charge_info=charge_info,
            enterprise_project_id=enterprise_project_id,
            tags=tags,
        )
        token = None if client_token is None else validate_client_token(client_token)
        client = await self.aclient()
        project = await client.aproject_id(project_id)
        return await client.arun(create_call(client.settings.endpoint, project, body, token))

    def delete_firewall(self, firewall_id: str, project_id: str | None = None) -> DeletedFirewall:
        """Delete a (pay-per-use) firewall (DeleteFirewall); returns the deletion job id.

        :param firewall_id: the firewall's ``fw_instance_id``.
        :param project_id: overrides the hook's and connection's project.
        :raises CfwApiError: ``CFW.00200005`` when no such firewall exists.
        """
        firewall_id = validate_firewall_id(firewall_id)
        client = self.client
        return client.run(delete_call(client.settings.endpoint, client.project_id(project_id), firewall_id))

    async def adelete_firewall(self, firewall_id: str, project_id: str | None = None) -> DeletedFirewall:
        """The natively async :meth:`delete_firewall`."""
        firewall_id = validate_firewall_id(firewall_id)
        client = await self.aclient()
        project = await client.aproject_id(project_id)
        return await client.arun(delete_call(client.settings.endpoint, project, firewall_id))

    def list_firewalls(
        self,
        key_word: str | None = None,
        *,
        enterprise_project_id: str | None = None,
        page_size: int = LIST_PAGE_MAX,
        project_id: str | None = None,
    ) -> list[CfwFirewall]:
        """Every firewall matching ``key_word`` (ListFirewallList), following the pages.

        :param key_word: part of a name or an id (CFW matches substrings: filter on ``name`` for an
            exact match, or use :meth:`find_firewall`); ``None`` lists them all.
        :param enterprise_project_id: only this enterprise project's firewalls.
        :param page_size: firewalls per request (1-1024).
        :param project_id: overrides the hook's and connection's project.
        """
        validate_list_arguments(key_word, page_size, enterprise_project_id)
        client = self.client
        plan = list_plan(
            client.settings.endpoint,
            client.project_id(project_id),
            key_word=key_word,
            page_size=page_size,
            enterprise_project_id=enterprise_project_id,
        )
        return client.run(plan)

    async def alist_firewalls(
        self,
        key_word: str | None = None,
        *,
        enterprise_project_id: str | None = None,
        page_size: int = LIST_PAGE_MAX,
        project_id: str | None = None,
    ) -> list[CfwFirewall]:
        """The natively async :meth:`list_firewalls`."""
        validate_list_arguments(key_word, page_size, enterprise_project_id)
        client = await self.aclient()
        plan = list_plan(
            client.settings.endpoint,
            await client.aproject_id(project_id),
            key_word=key_word,
            page_size=page_size,
            enterprise_project_id=enterprise_project_id,
        )
        return await client.arun(plan)

    def find_firewall(
        self,
        *,
        name: str | None = None,
        firewall_id: str | None = None,
        enterprise_project_id: str | None = None,
        project_id: str | None = None,
    ) -> CfwFirewall | None:
        """The one firewall called exactly ``name`` (or with exactly ``firewall_id``); deleted ones
        (status 4) left out; ``None`` if there is none.

        :param name: the firewall's exact name.
        :param firewall_id: the firewall's id, instead of ``name``.
        :param enterprise_project_id: with ``name``: look only in this enterprise project.
        :param project_id: overrides the hook's and connection's project.
        :raises CfwFirewallNameConflict: several firewalls have the name.
        """
        target = _firewall_target(name, firewall_id, enterprise_project_id)
        listed = self.list_firewalls(
            target["name"] or target["firewall_id"],
            enterprise_project_id=target["enterprise_project_id"],
            project_id=project_id,
        )
        return firewall_outcome(listed, FirewallGoal.LISTED, name=name, firewall_id=firewall_id).value

    # ---- any call -----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        project_id: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Any other CFW call, signed (or token-authenticated) and retried like the built-in ones.

        ``{project_id}`` in ``path`` is replaced by the project; the answer's JSON object is returned,
        and an error answer raises the same exceptions as every other call. For example, the address
        groups of a firewall::

            hook.request(
                "GET",
                "/v1/{project_id}/address-sets",
                params={"object_id": protected_object_id, "limit": 100, "offset": 0},
            )

        :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        :param path: the API path, e.g. ``/v1/{project_id}/firewalls/list`` (plain segments only).
        :param params: the query; lists repeat the key, booleans are ``true``/``false``.
        :param json: the body, sent as JSON exactly as the official SDK would serialise it.
        :param project_id: overrides the hook's and connection's project.
        :param idempotent: may the call run twice? By default GET, PUT and DELETE may be retried after
            any transient failure, POST and PATCH only after failures that prove they did not arrive.
        :raises CfwConfigError: bad method or path, before any request.
        """
        verb, path, json = validate_method(method), validate_path(path), validate_json(json)
        client = self.client
        call = any_call(
            client.settings.endpoint,
            client.project_id(project_id),
            verb,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
        )
        return client.run(call)

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        project_id: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """The natively async :meth:`request`."""
        verb, path, json = validate_method(method), validate_path(path), validate_json(json)
        client = await self.aclient()
        call = any_call(
            client.settings.endpoint,
            await client.aproject_id(project_id),
            verb,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
        )
        return await client.arun(call)

    def async_session(self) -> AbstractAsyncContextManager[aiohttp.ClientSession]:
        """Keep the event loop's shared HTTP pool open while the block runs (around a whole wait)."""
        return CfwClient.shared_session()

    def test_connection(self) -> tuple[bool, str]:
        """Prove the credentials and project with one List Job Status call for a random job id."""
        try:
            project_id = self.client.project_id()
            self.get_job(str(uuid.uuid4()))
        except CfwJobNotFound:
            return True, f"Connection works: CFW accepted the credentials for project {project_id}."
        except CfwError as err:
            return False, f"{type(err).__name__}: {err}"
        except Exception as err:
            # The UI's Test button shows this text: keep it to the error's type and message.
            return False, f"Unexpected {type(err).__name__}: {err}"
        return True, f"Connection works: CFW answered for project {project_id}."

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
