"""The remote codec endpoint for the Temporal Web UI and CLI: ``POST /codec/encode`` and
``POST /codec/decode`` (Temporal's codec server protocol).

Both take and return a ``Payloads`` message in protobuf's JSON mapping: ``{"payloads": [{"metadata":
{key: base64}, "data": base64}]}``. They use the workers' own ``EncryptionCodec`` keys, so whoever
may call them reads residents' data in the clear: only staff, supervisors and admins may (agents and
rating links get 403, a missing or bad token 401). A body that is not such a message, or a payload
that does not decrypt, is a 400 (the protocol's answer for both).

The UI calls from the browser, so ``/codec/*`` (and nothing else) answers CORS for the UI's origin
(``DAIBAN_CODEC_CORS_ORIGIN``) and its ``localhost`` ⇄ ``127.0.0.1`` twin, with credentials.

The endpoint applies the API's rules to what it decrypts (docs/design.md §6). A payload that belongs
to a request outside the caller's scope refuses the whole call (403); a resident is shown in the
clear only to whom the API would show it (the agent of the village, the staff handling the request)
and masked for everyone else; every decode that reveals a resident writes the access record. What it
encrypts is marked as the endpoint's, which the workers refuse: the UI can read a history, but
nobody can have the endpoint seal a command.

In development, the local Web UI may decode without a token (``DAIBAN_CODEC_DEV_UI_WITHOUT_TOKEN``)
only from its own origin to a loopback host, and sees residents masked.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from daiban.core.codec import ENDPOINT_ORIGIN, EncryptionCodec, PayloadTooLarge, parse_keys
from daiban.core.logs import get_logger
from daiban.core.settings import Settings, is_loopback
from daiban.domain.scope import Principal
from daiban.http.codec_view import for_viewer
from daiban.http.deps import (
    OVERSIGHT,
    STAFF,
    ServicesDep,
    SettingsDep,
    bearer,
    get_principal,
    require,
)
from daiban.http.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA_REF,
    Problem,
    Unauthorized,
    responses,
)
from daiban.http.problems import PayloadTooLarge as TooLarge
from models.contracts import Role

PREFIX: Final = "/codec"
CORS_HEADERS: Final = ["Authorization", "Content-Type", "X-Namespace"]
CORS_METHODS: Final = ["POST", "OPTIONS"]
CORS_MAX_AGE: Final = 600  # seconds a browser may cache a preflight
LOOPBACK_TWINS: Final = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}
MAX_PAYLOADS: Final = 1000

log = get_logger("daiban.core.codec")
router = APIRouter(prefix=PREFIX, tags=["codec"])
# Whoever decodes reads residents' data: staff handling requests and those overseeing them.
_codec_roles = require(*STAFF, *OVERSIGHT)


def from_local_ui(request: Request, settings: Settings) -> bool:
    """Sent by a browser showing the configured UI, to a loopback host: not another page the
    browser has open, not another machine, not a name rebound to this one."""
    origin = request.headers.get("origin", "").rstrip("/")
    host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
    return origin in cors_origins(settings.codec_cors_origin) and is_loopback(host)


async def codec_user(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """A staff or oversight token; in development, also the local Web UI without one."""
    settings = services.settings
    if (
        credentials is None
        and settings.codec_dev_ui_without_token
        and settings.environment == "development"
    ):
        if not from_local_ui(request, settings):
            raise Unauthorized(
                "a bearer token is required (without one, only the local Web UI may decode)",
                invalid=False,
            )
        # An admin: every city of the tree, every resident masked. Its office is the first
        # city's, as an admin's office names no scope.
        city = (await services.offices()).cities()[0]
        principal = Principal(sub="dev-web-ui", role=Role.ADMIN, office=city.code, tier=city.tier)
    else:
        principal = await _codec_roles(await get_principal(services, credentials))
    # By subject, or by client address for the tokenless UI (all local pages share its subject).
    client = request.client.host if request.client else "-"
    subject = principal.sub if credentials is not None else f"{principal.sub}@{client}"
    services.codec_limiter.check(subject)
    return principal


CodecUserDep = Annotated[Principal, Depends(codec_user)]


class CodecPayload(BaseModel):
    """One ``temporal.api.common.v1.Payload`` in protobuf JSON: bytes as base64."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, str] = Field(default_factory=dict, description="key → base64 value")
    data: str = Field("", description="base64")


class CodecPayloads(BaseModel):
    """A ``temporal.api.common.v1.Payloads`` message in protobuf JSON."""

    model_config = ConfigDict(extra="ignore")

    payloads: list[CodecPayload] = Field(default_factory=list, max_length=MAX_PAYLOADS)


class BadPayloads(Problem):
    status, slug, title = 400, "bad-payloads", "Payloads cannot be processed"


def _b64decode(value: str) -> bytes:
    """Protobuf's JSON mapping accepts standard and URL-safe base64, padded or not."""
    return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)


def _b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def payloads_from_json(body: bytes) -> list[Payload]:
    """The payloads of a request body; ``BadPayloads`` when it is not a Payloads message."""
    try:
        message = CodecPayloads.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadPayloads(f"not a Payloads message: {where}: {first['msg']}") from None
    try:
        return [
            Payload(
                metadata={key: _b64decode(value) for key, value in p.metadata.items()},
                data=_b64decode(p.data),
            )
            for p in message.payloads
        ]
    except (binascii.Error, ValueError):
        raise BadPayloads("payload metadata and data must be base64") from None


def payloads_to_json(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={key: _b64encode(value) for key, value in p.metadata.items()},
                data=_b64encode(p.data),
            )
            for p in payloads
        ]
    )


@lru_cache(maxsize=8)
def _codec(keys_spec: str, max_inflated: int, origin: bytes | None) -> EncryptionCodec:
    return EncryptionCodec(parse_keys(keys_spec), origin=origin, max_inflated=max_inflated)


def codec_of(settings: Settings, *, sealing: bool = False) -> EncryptionCodec:
    """The workers' keys (built once per key set: the AES-GCM ciphers are reusable); what it
    seals is marked as the endpoint's."""
    return _codec(
        settings.codec_keys.get_secret_value(),
        settings.codec_max_payload_bytes,
        ENDPOINT_ORIGIN if sealing else None,
    )


def _check_namespace(settings: Settings, namespace: str | None) -> None:
    if namespace is not None and namespace != settings.temporal_namespace:
        raise BadPayloads(f"this codec serves namespace {settings.temporal_namespace!r}")


async def _decrypt(
    codec: EncryptionCodec, payloads: Sequence[Payload], limit: int
) -> list[Payload]:
    """Each payload inflated within the codec's cap, and all of them within ``limit`` bytes."""
    done: list[Payload] = []
    total = 0
    try:
        for payload in payloads:
            [plain] = await codec.decode([payload])
            total += plain.ByteSize()
            if total > limit:
                raise TooLarge(f"the decoded payloads must be at most {limit} bytes in total")
            done.append(plain)
    except PayloadTooLarge as error:
        raise TooLarge(str(error)) from None
    # ValueError: an unknown or undecodable key id (CodecKeyError), a nonce too short.
    except (ValueError, InvalidTag, DecodeError):
        # Never say more: which key failed or where the tag broke helps nobody but an attacker.
        raise BadPayloads("a payload could not be decrypted with this server's keys") from None
    return done


def _log(operation: str, principal: Principal, count: int, revealed: Sequence[str] = ()) -> None:
    # Who opened residents' data, and how much of it: the trail, without the data.
    log.info(
        "codec",
        operation=operation,
        sub=principal.sub,
        role=principal.role,
        office=principal.office,
        payloads=count,
        revealed=list(revealed),
    )


_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodecPayloads"}}},
    }
}
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {
        "description": "Not a Payloads message, or a payload that does not decrypt",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
    },
    **responses(401, 403, 413, 422, 429),
}
NamespaceHeader = Annotated[
    str | None,
    Header(
        alias="X-Namespace",
        max_length=255,
        description="the Temporal namespace (sent by the UI); must be the API's if given",
    ),
]


@router.post("/encode", response_model=CodecPayloads, responses=_RESPONSES, openapi_extra=_BODY)
async def encode(
    request: Request,
    principal: CodecUserDep,
    settings: SettingsDep,
    namespace: NamespaceHeader = None,
) -> CodecPayloads:
    """Encrypt payloads for the UI (a signal's input, say), marked as the endpoint's: the
    workers refuse them as commands."""
    _check_namespace(settings, namespace)
    payloads = payloads_from_json(await request.body())
    sealed = await codec_of(settings, sealing=True).encode(payloads)
    _log("encode", principal, len(payloads))
    return payloads_to_json(sealed)


@router.post("/decode", response_model=CodecPayloads, responses=_RESPONSES, openapi_extra=_BODY)
async def decode(
    request: Request,
    principal: CodecUserDep,
    services: ServicesDep,
    settings: SettingsDep,
    namespace: NamespaceHeader = None,
) -> CodecPayloads:
    """Decrypt payloads of a workflow history, with the API's scope and masking applied;
    payloads not encrypted by us pass unchanged."""
    _check_namespace(settings, namespace)
    payloads = payloads_from_json(await request.body())
    plain = await _decrypt(codec_of(settings), payloads, settings.codec_max_response_bytes)
    shown, revealed = await for_viewer(services, principal, plain)
    _log("decode", principal, len(payloads), revealed)
    return payloads_to_json(shown)


# --- CORS, for /codec/* only -------------------------------------------------------------------


def cors_origins(origin: str) -> list[str]:
    """The configured origin and its loopback twin (the UI is reached as either name)."""
    origin = origin.strip().rstrip("/")
    if not origin:
        return []
    parts = urlsplit(origin)
    origins = [origin]
    twin = LOOPBACK_TWINS.get(parts.hostname or "")
    if twin is not None:
        netloc = twin if parts.port is None else f"{twin}:{parts.port}"
        origins.append(f"{parts.scheme}://{netloc}")
    return origins


class _ProblemCORS(CORSMiddleware):
    """Starlette's CORS, answering a refused preflight as a problem like every other error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        detail = bytes(response.body).decode(errors="replace")  # "Disallowed CORS origin, method"
        problem = BadPreflight(detail).response(PREFIX)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "content-type"):
                problem.headers[name] = value
        return problem


class BadPreflight(Problem):
    status, slug, title = 400, "cors-preflight-refused", "Cross-origin request refused"


class CodecCORS:
    """CORS for the codec endpoint only; the rest of the API is not for other origins' browsers."""

    def __init__(self, app: ASGIApp, *, origin: str) -> None:
        self.app = app
        self.cors = _ProblemCORS(
            app,
            allow_origins=cors_origins(origin),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            allow_credentials=True,
            max_age=CORS_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
