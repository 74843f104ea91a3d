"""What the emulated account holds: access keys, IAM users, projects, tokens and jobs.

Every method takes one lock, so a test thread may configure the emulator while its server thread
answers requests.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_cfw.core.signing import AkSkCredentials
from airflow_provider_cfw.testing.jobs import ScriptedJob, StatusScript

if TYPE_CHECKING:
    from airflow_provider_cfw.testing.rate_limit import RateLimit

DEFAULT_TOKEN_TTL = 24 * 3600.0


@dataclass
class AccessKey:
    """An AK/SK pair the gateway accepts, with its lock-out bookkeeping."""

    credentials: AkSkCredentials
    expires_at: float | None = None
    failures: int = 0
    locked_until: float = 0.0


#: How a project came to exist. Lookups by name only see the highest rank present for that name, so
#: ``add_iam_user`` (placeholder) or ``add_job`` (implicit) never shadow an ``add_project`` (explicit).
PLACEHOLDER, IMPLICIT, EXPLICIT = 0, 1, 2


@dataclass(frozen=True)
class Project:
    """A project (one per region in Huawei Cloud)."""

    id: str
    name: str
    domain_id: str
    rank: int = EXPLICIT


@dataclass(frozen=True)
class IamUser:
    """An IAM user that can get a password token."""

    domain_name: str
    domain_id: str
    name: str
    id: str
    password: str = field(repr=False)
    token_ttl: float | None = None


@dataclass
class IssuedToken:
    """An IAM token: who it is for, which project it is scoped to, and until when."""

    token: str = field(repr=False)
    user: IamUser
    project: Project | None
    issued_at: float
    expires_at: float
    revoked: bool = False


class EmulatorState:
    """The account the emulator serves.

    :param clock: returns the current time in epoch seconds (``time.time`` by default).
    :param token_ttl: lifetime of IAM tokens in seconds, unless the user has its own.
    :param lockout_threshold: consecutive AK/SK failures that lock an AK (``None``: never lock).
    :param lockout_seconds: how long a locked AK stays locked.
    """

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        *,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        lockout_threshold: int | None = 5,
        lockout_seconds: float = 300.0,
    ) -> None:
        self.lock = threading.RLock()
        #: The account's API rate limit (see :mod:`~airflow_provider_cfw.testing.rate_limit`), if any.
        self.rate_limit: RateLimit | None = None
        self._clock = clock or time.time
        self.clock_offset = 0.0
        self.token_ttl = token_ttl
        self.lockout_threshold = lockout_threshold
        self.lockout_seconds = lockout_seconds
        self.access_keys: dict[str, AccessKey] = {}
        self.users: dict[tuple[str, str], IamUser] = {}
        self.domains: dict[str, str] = {}
        self.projects: dict[str, Project] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.jobs: dict[tuple[str, str], ScriptedJob] = {}
        self.default_domain_id = uuid.uuid4().hex

    def now(self) -> float:
        return self._clock() + self.clock_offset

    def reset(self) -> None:
        with self.lock:
            for table in (self.access_keys, self.users, self.domains, self.projects, self.tokens, self.jobs):
                table.clear()
            self.clock_offset = 0.0
            self.rate_limit = None

    # -- configuration -------------------------------------------------------------------------

    def add_aksk(self, ak: str, sk: str, security_token: str | None, expires_at: float | None) -> None:
        if not ak or not sk:
            raise ValueError("ak and sk must not be empty")
        with self.lock:
            self.access_keys[ak] = AccessKey(AkSkCredentials(ak, sk, security_token), expires_at)

    def add_project(
        self, project_id: str, name: str, domain_id: str | None = None, rank: int = EXPLICIT
    ) -> Project:
        with self.lock:
            existing = self.projects.get(project_id)
            if existing is not None and existing.rank > rank:
                return existing
            project = Project(project_id, name, domain_id or self.default_domain_id, rank)
            self.projects[project_id] = project
            return project

    def add_user(
        self, domain_name: str, user_name: str, password: str, project_name: str, token_ttl: float | None
    ) -> IamUser:
        with self.lock:
            domain_id = self.domains.setdefault(domain_name, uuid.uuid4().hex)
            user = IamUser(domain_name, domain_id, user_name, uuid.uuid4().hex, password, token_ttl)
            self.users[(domain_name, user_name)] = user
            if not self.projects_named(project_name):
                self.add_project(uuid.uuid4().hex, project_name, rank=PLACEHOLDER)
            return user

    def add_job(
        self,
        project_id: str,
        job_id: str,
        statuses: StatusScript,
        *,
        time_format: str,
        begin_time: float | None,
        null_end_time: bool,
        project_name: str,
    ) -> ScriptedJob:
        with self.lock:
            job = ScriptedJob(
                job_id,
                statuses,
                begin_time=self.now() if begin_time is None else begin_time,
                time_format=time_format,
                null_end_time=null_end_time,
            )
            if project_id not in self.projects:
                self.add_project(project_id, project_name, rank=IMPLICIT)
            self.jobs[(project_id, job_id)] = job
            return job

    # -- what the routes ask -------------------------------------------------------------------

    def poll_job(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self.jobs.get((project_id, job_id))
            return None if job is None else job.poll(self.now())

    def domain_name(self, domain_id: str) -> str:
        """The name of the domain with this id ("" if none: no user will match)."""
        with self.lock:
            return next((name for name, known in self.domains.items() if known == domain_id), "")

    def find_user(self, domain_name: str, user_name: str, password: str) -> IamUser | None:
        with self.lock:
            user = self.users.get((domain_name, user_name))
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def find_project(self, *, project_id: str | None = None, name: str | None = None) -> Project | None:
        with self.lock:
            if project_id is not None:
                return self.projects.get(project_id)
            return next(iter(self.projects_named(name)), None)

    def projects_named(self, name: str | None) -> list[Project]:
        """Projects called ``name`` (all names if ``None``), of the highest rank present per name."""
        with self.lock:
            best: dict[str, int] = {}
            for project in self.projects.values():
                best[project.name] = max(best.get(project.name, PLACEHOLDER), project.rank)
            return [
                p
                for p in self.projects.values()
                if (name is None or p.name == name) and p.rank == best[p.name]
            ]

    def issue_token(self, user: IamUser, project: Project | None, ttl: float | None = None) -> IssuedToken:
        with self.lock:
            now = self.now()
            lifetime = ttl if ttl is not None else (user.token_ttl or self.token_ttl)
            # Real tokens are long base64 blobs starting "MII"; clients must not assume a length.
            value = "MIIEmulator" + secrets.token_urlsafe(96)
            issued = IssuedToken(value, user, project, now, now + lifetime)
            self.tokens[value] = issued
            return issued

    def revoke(self, token: str | None, user_name: str | None, domain_name: str | None) -> int:
        with self.lock:
            revoked = 0
            for issued in self.tokens.values():
                if token is not None and issued.token != token:
                    continue
                if user_name is not None and issued.user.name != user_name:
                    continue
                if domain_name is not None and issued.user.domain_name != domain_name:
                    continue
                if not issued.revoked:
                    issued.revoked = True
                    revoked += 1
            return revoked

    def lookup_token(self, token: str) -> IssuedToken | None:
        with self.lock:
            return self.tokens.get(token)

    def lookup_ak(self, ak: str) -> AccessKey | None:
        with self.lock:
            return self.access_keys.get(ak)

    def note_ak_result(self, key: AccessKey, ok: bool) -> None:
        """Count consecutive failures; the gateway locks an AK after too many in a row."""
        with self.lock:
            if ok:
                key.failures = 0
                return
            key.failures += 1
            if self.lockout_threshold is not None and key.failures >= self.lockout_threshold:
                key.locked_until = self.now() + self.lockout_seconds
                key.failures = 0
