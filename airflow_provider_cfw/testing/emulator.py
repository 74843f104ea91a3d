"""``CfwEmulator``: a local Huawei Cloud CFW + IAM endpoint, in a thread or on the current event loop."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from airflow_provider_cfw.testing.faults import Fault, FaultQueue
from airflow_provider_cfw.testing.firewalls import (
    DEFAULT_FIREWALL_JOB_SECONDS,
    EmulatedFirewall,
    FirewallRegistry,
)
from airflow_provider_cfw.testing.jobs import ScriptedJob, StatusScript
from airflow_provider_cfw.testing.rate_limit import RateLimit
from airflow_provider_cfw.testing.routes import EmulatorApp
from airflow_provider_cfw.testing.server import LoopThread, start_site
from airflow_provider_cfw.testing.state import DEFAULT_TOKEN_TTL, EmulatorState, IamUser, Project
from airflow_provider_cfw.testing.stats import EmulatorStats, StatsRecorder

if TYPE_CHECKING:
    from aiohttp.web import AppRunner

logger = logging.getLogger(__name__)


class CfwEmulator:
    """Serves CFW ``GET /v3/{project_id}/jobs/{job_id}``, the firewall lifecycle (create, delete,
    list; see :mod:`~airflow_provider_cfw.testing.firewalls`) and IAM tokens/projects on one local port.

    ``with CfwEmulator() as emu:`` runs it in a background thread with its own event loop;
    ``async with CfwEmulator() as emu:`` runs it on the running loop. Configuration methods are
    thread-safe and take effect for the next request.

    :param host: address to bind (keep the default loopback address).
    :param port: port to bind; 0 picks a free one (read it back from :attr:`port`).
    :param token_ttl: lifetime of IAM tokens in seconds (24 h, like IAM).
    :param clock: the emulator's notion of "now" in epoch seconds (``time.time`` by default); used for
        ``X-Sdk-Date`` checks, token expiry and time-scripted jobs.
    :param lockout_threshold: consecutive AK/SK failures that lock an AK, like the real gateway
        (``None`` never locks).
    :param lockout_seconds: how long a locked AK stays locked.
    :param log_limit: request log entries kept in :attr:`stats`.
    :param backlog: TCP listen backlog.
    :param keepalive_timeout: seconds an idle keep-alive connection stays open.
    :param ssl_context: serve HTTPS with this server context (to test clients' TLS settings).
    :param firewall_job_seconds: how long a firewall create or delete job runs (emulator time) before
        it succeeds, unless :meth:`script_firewall_jobs` says otherwise: 180 s by default, as real
        ones take minutes; the ``cfw_emulator`` fixture uses 1 s.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] | None = None,
        lockout_threshold: int | None = 5,
        lockout_seconds: float = 300.0,
        log_limit: int = 10_000,
        backlog: int = 2048,
        keepalive_timeout: float = 75.0,
        ssl_context: ssl.SSLContext | None = None,
        firewall_job_seconds: float = DEFAULT_FIREWALL_JOB_SECONDS,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._backlog = backlog
        self._keepalive_timeout = keepalive_timeout
        self._ssl_context = ssl_context
        self.state = EmulatorState(
            clock, token_ttl=token_ttl, lockout_threshold=lockout_threshold, lockout_seconds=lockout_seconds
        )
        self.faults = FaultQueue()
        self.firewalls = FirewallRegistry(self.state, firewall_job_seconds)
        self._stats = StatsRecorder(log_limit)
        self._runner: AppRunner | None = None
        self._port: int | None = None
        self._thread = LoopThread("cfw-emulator")

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def url(self) -> str:
        """Base URL for both CFW and IAM, e.g. ``http://127.0.0.1:PORT``."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def astart(self) -> CfwEmulator:
        """Start serving on the running event loop."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = EmulatorApp(self.state, self.faults, self._stats, self.firewalls).build()
        self._runner, self._port = await start_site(
            app,
            self.host,
            self._requested_port,
            stats=self._stats,
            backlog=self._backlog,
            keepalive_timeout=self._keepalive_timeout,
            ssl_context=self._ssl_context,
        )
        logger.info("CFW emulator listening on %s", self.url)
        return self

    async def astop(self) -> None:
        """Stop serving and close every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("CFW emulator on port %s stopped", self._port)

    def start(self, timeout: float = 10.0) -> CfwEmulator:
        """Start serving in a background thread with its own event loop; returns once it listens."""
        self._thread.start(self.astart, self.astop, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread started by :meth:`start` (idempotent)."""
        self._thread.stop(timeout)

    def __enter__(self) -> CfwEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> CfwEmulator:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()

    # -- configuration ---------------------------------------------------------------------------

    def add_aksk(
        self, ak: str, sk: str, security_token: str | None = None, *, expires_at: float | None = None
    ) -> None:
        """Accept this access key. With ``security_token`` it is temporary: requests must send and
        sign a matching ``X-Security-Token``; ``expires_at`` (epoch seconds) ends its validity."""
        self.state.add_aksk(ak, sk, security_token, expires_at)

    def add_project(
        self, project_id: str, name: str = "cn-north-4", *, domain_id: str | None = None
    ) -> Project:
        """Declare a project; several projects may share a name (``/v3/projects?name=`` lists all)."""
        return self.state.add_project(project_id, name, domain_id)

    def add_iam_user(
        self,
        domain_name: str,
        user_name: str,
        password: str,
        project_name: str = "cn-north-4",
        *,
        token_ttl: float | None = None,
    ) -> IamUser:
        """Accept this user's password for tokens; makes sure a project called ``project_name``
        exists (with a random id if it is new), so ``scope.project.name`` works out of the box."""
        return self.state.add_user(domain_name, user_name, password, project_name, token_ttl)

    def add_job(
        self,
        project_id: str,
        job_id: str,
        statuses: StatusScript = ("Success",),
        *,
        time_format: str = "epoch-ms",
        begin_time: float | None = None,
        null_end_time: bool = False,
        project_name: str = "cn-north-4",
    ) -> ScriptedJob:
        """Script a job: ``statuses=["Running", "Success"]`` (one per poll, the last repeats) or
        ``[("Running", 5.0), ("Success", None)]`` (by seconds since ``begin_time``, default now).
        An unknown ``project_id`` is created on the fly, named ``project_name``."""
        return self.state.add_job(
            project_id,
            job_id,
            statuses,
            time_format=time_format,
            begin_time=begin_time,
            null_end_time=null_end_time,
            project_name=project_name,
        )

    def script_firewall_jobs(self, statuses: StatusScript, deletes: StatusScript | None = None) -> None:
        """How the jobs of later creates and deletes go (default: Running for ``firewall_job_seconds``,
        then Success);
        e.g. ``[("Running", 0.5), ("Failed", None)]`` for a create that fails. ``deletes``: how delete
        jobs go instead, e.g. a failed create cleaned up by a delete that succeeds."""
        for script in (statuses, deletes):
            if script is not None:  # refuse a bad script here, not at the next create
                ScriptedJob("check", script, begin_time=0.0)
        with self.state.lock:
            self.firewalls.job_script = statuses
            self.firewalls.delete_job_script = deletes

    def list_firewalls(self, name: str | None = None) -> list[EmulatedFirewall]:
        """The firewalls that exist (not yet removed by a delete), optionally only those called ``name``."""
        if name is not None:
            return self.firewalls.named(name)
        with self.state.lock:
            return [f for f in self.firewalls.firewalls.values() if f.status(self.state.now()) is not None]

    @property
    def firewalls_created(self) -> int:
        """Creates carried out so far, including those whose answer was lost (what would be billed)."""
        return self.firewalls.creates

    @property
    def firewall_orders(self) -> int:
        """prePaid orders placed so far (a repeated ``X-Client-Token`` places none)."""
        return self.firewalls.orders

    @property
    def repeated_client_tokens(self) -> int:
        """Creates answered from an earlier one with the same ``X-Client-Token`` (nothing created)."""
        return self.firewalls.repeated_tokens

    @property
    def firewall_list_lag(self) -> float:
        """Seconds a new firewall stays out of ListFirewallList (0 by default)."""
        return self.firewalls.list_lag

    @firewall_list_lag.setter
    def firewall_list_lag(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("firewall_list_lag must not be negative")
        with self.state.lock:
            self.firewalls.list_lag = float(seconds)

    @property
    def list_deleted_firewalls(self) -> bool:
        """List deleted firewalls as status 4 (deleted) rather than leave them out (default ``False``)."""
        return self.firewalls.list_deleted

    @list_deleted_firewalls.setter
    def list_deleted_firewalls(self, value: bool) -> None:
        with self.state.lock:
            self.firewalls.list_deleted = bool(value)

    def issue_token(
        self, domain_name: str, user_name: str, project_id: str, *, ttl: float | None = None
    ) -> str:
        """A token for an existing user, without going through ``POST /v3/auth/tokens``."""
        with self.state.lock:
            user = self.state.users[(domain_name, user_name)]
            project = self.state.projects[project_id]
            return self.state.issue_token(user, project, ttl).token

    def revoke_tokens(
        self, token: str | None = None, *, user_name: str | None = None, domain_name: str | None = None
    ) -> int:
        """Revoke matching tokens (all of them with no argument); returns how many were revoked."""
        return self.state.revoke(token, user_name, domain_name)

    def inject(
        self,
        route: str = "*",
        kind: str = "status",
        *,
        count: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Fault:
        """Inject a fault for the next ``count`` requests to ``route`` (default 1), or for each one
        with ``probability`` (seeded; unlimited unless ``count`` is also given). ``params`` are the
        :class:`~airflow_provider_cfw.testing.faults.Fault` fields: ``status``, ``error_code``,
        ``error_msg``, ``retry_after``, ``delay``, ``status_text``, ``body``, ``content_type``,
        ``request_id_header``."""
        if count is None and probability is None:
            count = 1
        fault = Fault(
            kind, route, count=count, probability=1.0 if probability is None else probability, **params
        )
        return self.faults.add(fault, seed)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limit(
        self,
        calls: float | None,
        *,
        period: float = 1.0,
        retry_after: str | float | None = None,
        scope: str = "account",
        routes: tuple[str, ...] = ("*",),
    ) -> RateLimit | None:
        """Throttle like Huawei's API gateway: at most ``calls`` answers in any ``period`` seconds
        across the account; any more get HTTP 429 ``APIGW.0308`` "The throttling threshold has been
        reached: policy user over ratelimit,limit:XX,time:1 second", before authentication, and do not
        count. ``retry_after`` adds a ``Retry-After`` header (Huawei's own services send none);
        ``scope="access_key"`` gives each AK a budget of its own; ``routes`` limits it to some routes.
        ``calls=None`` removes the limit. Throttled answers show in :attr:`stats` with status 429 and
        fault ``rate_limit``; the returned object counts them in ``throttled``."""
        limit = None
        if calls is not None:
            after = f"{retry_after:g}" if isinstance(retry_after, float | int) else retry_after
            limit = RateLimit(calls, period, after, scope, tuple(routes))
        self.state.rate_limit = limit
        return limit

    @property
    def rate_limit(self) -> RateLimit | None:
        """The account's rate limit in force (see :meth:`set_rate_limit`), if any."""
        return self.state.rate_limit

    # -- clock and stats -------------------------------------------------------------------------

    @property
    def token_ttl(self) -> float:
        """Lifetime of new IAM tokens in seconds (a user's own ``token_ttl`` wins); settable."""
        return self.state.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.state.token_ttl = seconds

    @property
    def issued_tokens(self) -> list[str]:
        """Every token issued so far (to check that none leaks into logs or events)."""
        with self.state.lock:
            return list(self.state.tokens)

    def now(self) -> float:
        """The emulator's current time (epoch seconds), offset included."""
        return self.state.now()

    def set_clock_offset(self, seconds: float) -> None:
        """Shift the emulator's clock: expire tokens, age jobs or make ``X-Sdk-Date`` stale."""
        self.state.clock_offset = seconds

    def advance_clock(self, seconds: float) -> None:
        with self.state.lock:
            self.state.clock_offset += seconds

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters and the request log."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def reset(self) -> None:
        """Forget everything configured (keys, users, projects, tokens, jobs, faults, rate limit, clock
        offset) and the counters; the server keeps running."""
        self.state.reset()
        self.firewalls.reset()
        self.faults.clear()
        self._stats.reset()
