"""Turning a submission into the workflow's input: snapshots of the catalog item and the policy."""

from __future__ import annotations

from daiban.core.settings import Settings
from daiban.domain.catalog import ServiceItem
from models.contracts import ItemSpec, LadderPolicy, LimitSpec, Policy


def item_spec(item: ServiceItem) -> ItemSpec:
    statutory, extension = item.limits.statutory, item.limits.extension
    return ItemSpec(
        code=item.code,
        name=item.name,
        deciding_tier=item.deciding_tier,
        promised=LimitSpec(item.limits.promised.limit, item.limits.promised.unit),
        statutory=LimitSpec(statutory.limit, statutory.unit),
        materials=list(item.materials),
        extension=LimitSpec(extension.limit, extension.unit) if extension is not None else None,
        gap_materials=list(item.gap_materials),
    )


def policy(settings: Settings) -> Policy:
    return Policy(
        agent_handoff_days=settings.agent_handoff_days,
        acceptance_window_days=settings.acceptance_window_days,
        township_step_days=settings.township_step_days,
        township_step_statutory_days=settings.township_step_statutory_days,
        delivery_days=settings.delivery_days,
        supplement_window_natural_days=settings.supplement_window_natural_days,
        rating_window_natural_days=settings.rating_window_natural_days,
        rectification_days=settings.rectification_days,
        callback_days=settings.callback_days,
        appeal_days=settings.appeal_days,
        rectify_due_max_days=settings.rectify_due_max_days,
        reminder_days=settings.reminder_working_days_before,
        yellow_fraction=settings.yellow_fraction,
        default_rating=settings.default_rating,
        ladder=LadderPolicy(
            reminder_days=settings.reminder_working_days_before,
            warning_share=settings.warning_share,
            order_response_days=settings.order_response_days,
            opening=settings.opening_time.strftime("%H:%M"),
        ),
    )
