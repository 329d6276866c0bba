"""The proofs that a rating is the resident's own act (docs/design.md §4): the rating link sent to
the resident's phone at delivery, and the one-time code that confirms a rating on the agent's
device. Both are kept only as keyed hashes (HMAC-SHA256 with the rating-link key): a copy of the
database holds no usable link or code. Texts to the resident's phone go to the outbox sealed.

What a rating proves is decided by the workflow, not here: each link and code is named to it by
an id, and it refuses an id that rated already. So a code is marked used only once the workflow
took the rating; a rating it refused leaves the code as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from daiban.core.sealed import Sealer
from models.contracts import RESIDENT_RECIPIENT
from models.db import OutboxRow, RatingCodeRow, RatingLinkRow

# A link's short code: ten characters of an alphabet without look-alikes (0/O, 1/l/I).
LINK_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LINK_LENGTH = 10
CODE_DIGITS = 6


@dataclass(frozen=True)
class CodeCheck:
    """What a confirmation code proved: its id when it is the request's code, unused and in time;
    else why not (``wrong``, ``expired``, ``used``, ``missing``, or ``dead``: too many wrong
    tries) and the tries a wrong one leaves."""

    code_id: str | None
    refused: str | None = None
    left: int = 0


@dataclass(frozen=True)
class SentCode:
    code_id: str
    expires_at: datetime


def keyed_hash(key: str, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def seal_text(sealer: Sealer, request_id: str, phone: str, text: str) -> dict[str, str]:
    """The phone and the text of a message to the resident, sealed for its request."""
    return sealer.seal({"phone": phone, "text": text}, outbox_context(request_id))


def outbox_context(request_id: str) -> str:
    return f"outbox:{request_id}"


def queue_resident_text(
    session: Session,
    *,
    request_id: str,
    village: str,
    event_key: str,
    sealed: dict[str, str],
    kind: str,
) -> None:
    """An outbox row to the resident's phone, unless this event's is there already (a retry)."""
    existing = session.exec(
        select(OutboxRow.id).where(
            OutboxRow.event_key == event_key,
            OutboxRow.recipient_office == village,
            OutboxRow.recipient_role == RESIDENT_RECIPIENT,
        )
    ).first()
    if existing is not None:
        return
    session.add(
        OutboxRow(
            request_id=request_id,
            event_key=event_key,
            recipient_office=village,
            recipient_role=RESIDENT_RECIPIENT,
            message=kind,
            sealed=sealed,
        )
    )


# --- rating links ------------------------------------------------------------------------------


def issue_link(
    session: Session,
    key: str,
    *,
    request_id: str,
    village: str,
    event_key: str,
    now: datetime,
    ttl: timedelta,
) -> str | None:
    """A new link's short code for the delivery recorded under ``event_key``; None when that
    delivery's link was issued already (a retried recording: its text is in the outbox)."""
    if session.exec(select(RatingLinkRow).where(RatingLinkRow.event_key == event_key)).first():
        return None
    code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))
    session.add(
        RatingLinkRow(
            code_hash=keyed_hash(key, "link", code),
            request_id=request_id,
            event_key=event_key,
            village=village,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return code


def find_link(session: Session, key: str, code: str, now: datetime) -> RatingLinkRow | None:
    """The link of a short code, unless unknown or expired."""
    row = session.get(RatingLinkRow, keyed_hash(key, "link", code))
    if row is None or row.expires_at <= now:
        return None
    return row


# --- confirmation codes ------------------------------------------------------------------------


def new_code(
    session: Session, key: str, request_id: str, now: datetime, minutes: int
) -> tuple[str, SentCode]:
    """A fresh code for the request, replacing any earlier one (its tries start again)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = session.get(RatingCodeRow, request_id, with_for_update=True) or RatingCodeRow(
        request_id=request_id, code_id="", code_hash=""
    )
    row.code_id = uuid.uuid4().hex
    row.code_hash = keyed_hash(key, "code", request_id, row.code_id, code)
    row.attempts, row.created_at, row.used_at = 0, now, None
    row.expires_at = now + timedelta(minutes=minutes)
    session.add(row)
    return code, SentCode(row.code_id, row.expires_at)


def check_code(
    session: Session, key: str, request_id: str, code: str, now: datetime, max_attempts: int
) -> CodeCheck:
    """Check ``code`` against the request's; a wrong one counts a try (an answer, not an
    exception, so that the caller's transaction commits the count)."""
    row = session.get(RatingCodeRow, request_id, with_for_update=True)
    if row is None:
        return CodeCheck(None, "missing")
    if row.used_at is not None:
        return CodeCheck(None, "used")
    if row.attempts >= max_attempts:
        return CodeCheck(None, "dead")
    if row.expires_at <= now:
        return CodeCheck(None, "expired")
    expected = keyed_hash(key, "code", request_id, row.code_id, code)
    if not hmac.compare_digest(expected, row.code_hash):
        row.attempts += 1
        session.add(row)
        left = max_attempts - row.attempts
        return CodeCheck(None, "wrong" if left > 0 else "dead", left)
    return CodeCheck(row.code_id)


def mark_used(session: Session, request_id: str, code_id: str, now: datetime) -> None:
    """The code rated (the workflow took the rating): it confirms nothing more."""
    row = session.get(RatingCodeRow, request_id, with_for_update=True)
    if row is not None and row.code_id == code_id and row.used_at is None:
        row.used_at = now
        session.add(row)
