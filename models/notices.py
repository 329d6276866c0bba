"""API schemas of written notices (文书): a request's list, and the public verification answer.

Kept beside ``models.schemas`` rather than in it: notices are a part of their own, and the
verification answer is read without a login, so it names nothing personal.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NoticeOut(BaseModel):
    number: str = Field(description="e.g. 姜山受〔2026〕0007号: office, kind, year, sequence")
    kind: str = Field(description="acceptance, supplement, refusal, denial, extension, ...")
    title: str = Field(description="the notice's title, e.g. 受理通知书")
    office: str = Field(description="the issuing office's code")
    issuer: str = Field(description="the issuing office as printed")
    issued_at: datetime
    sha256: str = Field(
        description="SHA-256 of the notice's canonical content, printed at its foot"
    )


class NoticeList(BaseModel):
    items: list[NoticeOut]


class NoticeVerifyOut(BaseModel):
    """Whether a printed copy is genuine: the record it names, never a person."""

    valid: bool = Field(description="a notice with this SHA-256 was issued and is unaltered")
    number: str | None = None
    kind: str | None = None
    title: str | None = None
    issued_at: datetime | None = None
    office: str | None = None
    issuer: str | None = None
