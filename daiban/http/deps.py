"""What the routes depend on, as ``Annotated`` aliases: the services made once in the app's
lifespan (Temporal client, database engine, settings, catalog) and the caller (``Principal``).

The Temporal client connects lazily: if Temporal is down when the API starts, the API still starts
(``/readyz`` says not ready) and the first call that needs Temporal connects or answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from daiban.core.temporal import connect
from daiban.domain.catalog import Catalog
from daiban.domain.offices import OfficeTree
from daiban.domain.scope import RATING_LINK, Principal
from daiban.http.auth import TokenVerifier
from daiban.http.problems import Forbidden, Unauthorized, Unavailable
from daiban.http.ratelimit import RateLimiter
from daiban.http.telemetry import Metrics
from daiban.store.db import session_scope
from daiban.store.offices import OfficeDirectory
from models.contracts import Role

STAFF = (Role.TOWNSHIP_STAFF, Role.CITY_STAFF)
OVERSIGHT = (Role.SUPERVISOR, Role.ADMIN)
PEOPLE = (Role.AGENT, *STAFF, *OVERSIGHT)  # every role but a rating link

CONNECT_TIMEOUT = 10.0  # seconds
T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    catalog: Catalog
    metrics: Metrics
    client: Client | None = None
    verifier: TokenVerifier = field(init=False)
    limiter: RateLimiter = field(init=False)
    codec_limiter: RateLimiter = field(init=False)
    progress_limiter: RateLimiter = field(init=False)
    tz: ZoneInfo = field(init=False)
    directory: OfficeDirectory = field(init=False)
    sealer: Sealer = field(init=False)
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.verifier = TokenVerifier(self.settings)
        self.limiter = RateLimiter(self.settings.submit_rate_per_minute)
        self.codec_limiter = RateLimiter(self.settings.codec_rate_per_minute, "codec calls")
        self.progress_limiter = RateLimiter(
            self.settings.progress_rate_per_minute, "progress lookups"
        )
        self.tz = ZoneInfo(self.settings.timezone)
        self.directory = OfficeDirectory(self.engine)
        self.sealer = Sealer.from_settings(self.settings)

    async def offices(self) -> OfficeTree:
        """The office tree (``daiban.store.offices``), read off the event loop when it is due."""
        tree = self.directory.fresh()
        return tree if tree is not None else await run_in_threadpool(self.directory.current)

    async def temporal(self) -> Client:
        if self.client is not None:
            return self.client
        async with self._connecting:
            if self.client is None:
                try:
                    self.client = await asyncio.wait_for(connect(self.settings), CONNECT_TIMEOUT)
                # The SDK raises RuntimeError for a refused connection; a black hole times out.
                except Exception as error:
                    raise Unavailable(f"Temporal is unreachable: {type(error).__name__}") from None
            return self.client

    def local_time(self, value: datetime | None) -> datetime | None:
        """A time given without an offset is the offices' local time."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=self.tz)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a worker thread, in one transaction."""

        def run() -> T:
            with session_scope(self.engine) as session:
                return fn(session, *args)

        try:
            return await run_in_threadpool(run)
        except (OperationalError, InterfaceError):
            # The database is away (restarting, network): a 503 the client may retry, not a 500.
            raise Unavailable("the database is unavailable; retry later") from None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_engine(services: ServicesDep) -> Engine:
    return services.engine


async def get_client(services: ServicesDep) -> Client:
    return await services.temporal()


def get_catalog(services: ServicesDep) -> Catalog:
    return services.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ClientDep = Annotated[Client, Depends(get_client)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]

bearer = HTTPBearer(auto_error=False, description="JWT with sub, role, office, exp")


async def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("a bearer token is required", invalid=False)
    return await services.verifier.verify(credentials.credentials, await services.offices())


AnyPrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency admitting only these roles (403 for any other valid token)."""

    async def dependency(principal: AnyPrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role} may not use this endpoint")
        return principal

    return dependency


PrincipalDep = Annotated[Principal, Depends(require(*PEOPLE))]
AgentDep = Annotated[Principal, Depends(require(Role.AGENT))]
StaffDep = Annotated[Principal, Depends(require(*STAFF))]
OversightDep = Annotated[Principal, Depends(require(*OVERSIGHT))]
RaterDep = Annotated[Principal, Depends(require(Role.AGENT, RATING_LINK))]
