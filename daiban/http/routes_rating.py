"""Routes of the resident's rating (docs/design.md §4): the rating itself, the rating link's QR
token, and the one-time confirmation code for a rating on the agent's device.

The rating's channel is decided here, from what was verified, never from the body: a rating-link
token rates as ``link``; an agent with a valid confirmation code as ``sms_code``; an agent without
one as ``agent_unconfirmed`` (kept and shown, never in the satisfaction rate). The link's or the
code's id goes to the workflow with the rating, which lets each rate once; a code is marked used
only once the workflow took the rating, so a rating it refuses leaves the code as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlmodel import Session

from daiban.domain.privacy import mask_resident
from daiban.domain.scope import RATING_LINK, Principal
from daiban.domain.sms import rating_code_text
from daiban.http.auth import mint_rating_link
from daiban.http.deps import AgentDep, ClientDep, RaterDep, Services, ServicesDep, SettingsDep
from daiban.http.problems import (
    ActionNotAllowed,
    InvalidInput,
    Problem,
    field_error,
    invalid,
    responses,
)
from daiban.http.routes_requests import (
    RequestId,
    act_on,
    current_state,
    present,
    scoped_row,
)
from daiban.store import rating_proofs
from models.actions import allowed_actions
from models.contracts import ActionCommand, RatingChannel, RequestState
from models.schemas import RatingCodeOut, RatingIn, RatingLinkOut, RequestOut

router = APIRouter(prefix="/v1", tags=["requests"])
CODE_FIELD = "confirmation_code"


class CodeExhausted(Problem):
    """The confirmation code took too many wrong tries and no longer works: a new one must be
    sent. 429, as for any caller that tried too often; not 409, which names actions allowed."""

    status, slug, title = 429, "too-many-attempts", "Too many wrong confirmation codes"


# What a refused code means to the caller, in words.
REFUSALS = {
    "wrong": "the confirmation code is wrong",
    "expired": "the confirmation code has expired; send a new one",
    "used": "the confirmation code was used already; send a new one",
    "missing": "no confirmation code was sent for this request; send one first",
}


@router.post(
    "/requests/{id}/rating",
    response_model=RequestOut,
    responses=responses(401, 403, 404, 409, 413, 422, 429, 503),
)
async def rate(
    id: RequestId, body: RatingIn, principal: RaterDep, services: ServicesDep, client: ClientDep
) -> RequestOut:
    """The resident's rating, overall and of each tier that handled the request (422 for a tier
    that did not); a score of 1 or 2, overall or of a tier, opens a rectification.

    Through a rating-link token (channel ``link``), or the village agent: with the
    ``confirmation_code`` sent by ``rating-code`` (``sms_code``), or without it
    (``agent_unconfirmed``).
    A wrong, expired or used code is a 422 and rates nothing; the wrong try that uses up the
    code's tries, and every try after it, a 429 (send a new code); a link or code that rated
    already, a 409."""
    await scoped_row(services, principal, id)
    channel, proof, code_id = await _proof(services, principal, id, body)
    cmd = ActionCommand(
        action="rate",
        actor=principal.actor(),
        score=body.score,
        comment=body.comment,
        tiers=body.tiers.given() if body.tiers is not None else None,
        rating_channel=channel,
        rating_proof=proof,
    )
    state = await act_on(services, client, principal, id, cmd)
    if code_id is not None:
        now = datetime.now(UTC)
        await services.db(rating_proofs.mark_used, id, code_id, now)
    return await present(services, principal, state, "rate")


async def _proof(
    services: Services, principal: Principal, request_id: str, body: RatingIn
) -> tuple[str, str | None, str | None]:
    """The rating's channel, the id of its proof for the workflow, and the code to mark used."""
    if principal.role == RATING_LINK:
        if body.confirmation_code is not None:
            raise invalid(CODE_FIELD, "a rating link needs no confirmation code")
        return RatingChannel.LINK, f"link:{principal.link or principal.sub}", None
    if body.confirmation_code is None:
        return RatingChannel.AGENT_UNCONFIRMED, None, None
    settings = services.settings
    check = await services.db(
        rating_proofs.check_code,
        settings.rating_link_key,
        request_id,
        body.confirmation_code,
        datetime.now(UTC),
        settings.rating_code_attempts,
    )
    if check.code_id is not None:
        return RatingChannel.SMS_CODE, f"code:{check.code_id}", check.code_id
    if check.refused == "dead":
        message = "too many wrong confirmation codes: this one no longer works; send a new one"
        raise CodeExhausted(message, errors=[field_error(CODE_FIELD, message)])
    message = REFUSALS[check.refused or "wrong"]
    if check.refused == "wrong":
        message += f" ({check.left} tries left)"
    raise InvalidInput(message, [field_error(CODE_FIELD, message)])


@router.post(
    "/requests/{id}/rating-code",
    response_model=RatingCodeOut,
    status_code=202,
    responses=responses(401, 403, 404, 409, 422, 429, 503),
)
async def rating_code(
    id: RequestId, principal: AgentDep, services: ServicesDep, settings: SettingsDep
) -> RatingCodeOut:
    """Send a one-time confirmation code to the resident's phone, for a rating on the agent's
    device (202: the text is queued for the notification gateway). While a rating is open only
    (409 with ``allowed_actions`` otherwise). The code is good for ``DAIBAN_RATING_CODE_MINUTES``
    and ``DAIBAN_RATING_CODE_ATTEMPTS`` wrong tries; a new one replaces the old."""
    services.limiter.check(principal.sub)
    row = await scoped_row(services, principal, id)
    state = await current_state(services, row)
    allowed = allowed_actions(state, principal.actor())
    if "rate" not in allowed:  # the service's rating, or the fix's after a rectification
        raise ActionNotAllowed("no rating is open for this request", allowed_actions=allowed)
    now = datetime.now(UTC)

    def send(session: Session) -> rating_proofs.SentCode:
        code, sent = rating_proofs.new_code(
            session, settings.rating_link_key, id, now, settings.rating_code_minutes
        )
        text = rating_code_text(state.item_name, code, settings.rating_code_minutes)
        rating_proofs.queue_resident_text(
            session,
            request_id=id,
            village=state.village,
            event_key=f"{id}:code:{sent.code_id}",
            sealed=rating_proofs.seal_text(services.sealer, id, state.resident.phone, text),
            kind="rating_code",
        )
        return sent

    sent = await services.db(send)
    return RatingCodeOut(
        request_id=id,
        phone=mask_resident(state.resident).phone,
        expires_at=sent.expires_at.astimezone(services.tz),
        attempts=settings.rating_code_attempts,
    )


@router.post(
    "/requests/{id}/rating-link",
    response_model=RatingLinkOut,
    status_code=201,
    responses=responses(401, 403, 404, 422),
)
async def rating_link(
    id: RequestId, principal: AgentDep, services: ServicesDep, settings: SettingsDep
) -> RatingLinkOut:
    """A token the resident can rate this one request with, once (valid for the rating window);
    the agent's page shows it as a QR code."""
    await scoped_row(services, principal, id)
    ttl = settings.rating_window_natural_days * 86400
    offices = await services.offices()
    token = mint_rating_link(settings, id, principal.office, ttl, offices)
    return RatingLinkOut(token=token, request_id=id, expires_in=ttl)


def rating_open(state: RequestState, principal: Principal) -> bool:
    """Whether the resident can rate now (the console's pages ask)."""
    return "rate" in allowed_actions(state, principal.actor())
