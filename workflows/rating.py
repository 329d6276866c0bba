"""The resident's rating of a request and the rectification of a bad one (docs/design.md §4):
the steps of ``ResidentRequestWorkflow`` from delivery's rating window to the archived rating.

A rating of 1 or 2, overall or for a tier, opens the rectification stage at the office rated
(谁办理、谁负责): it calls the resident back within the callback limit, then settles with an
outcome (a scheduled fix is a clock of its own until its due date), and may appeal within the
appeal window to the supervisor of the tier above. A settled rectification leaves the resident a
window to rate the fix.

``RatingSteps`` is a mixin of the workflow class (``workflows.transition`` says how): the rating
actions and the default rating at the window's end run its methods under the workflow's lock.
"""

from __future__ import annotations

from temporalio import workflow

from models.contracts import (
    ActionCommand,
    Actor,
    CallbackInfo,
    ClockName,
    ClockQuery,
    Expiry,
    LimitSpec,
    RatingChannel,
    RatingInfo,
    RectificationInfo,
    Stage,
)
from workflows import clocks
from workflows.transition import Transitions, Tx

# Patch: the resident's own voice (docs/design.md §4): delivery sends the resident a rating link;
# every rating records its channel and the tiers the resident rated; a bad tier's rectification
# goes to that tier's office (``_rated_office``). Before it, every bad rating went to the
# deciding office.
RATING_CHANNELS = "rating-channels"
# A bad rating (差评): 1 非常不满意 or 2 不满意.
BAD_SCORE = 2


class RatingSteps(Transitions):
    """The rating and rectification steps of the request workflow."""

    # --- actions -------------------------------------------------------------------------------

    async def _do_rate(self, cmd: ActionCommand, tx: Tx) -> None:
        assert cmd.score is not None
        s = self._state
        if s.stage == Stage.COMPLETED and s.rating is not None:
            s.rating.fix_score = cmd.score
            clocks.drop_clocks(self._state, ClockName.FIX_RATING)
            self._history(tx, cmd.actor, "rate", s.stage, s.stage, f"fix score {cmd.score}")
            self._event(tx, cmd.actor, "rating", "rate", note=f"fix score {cmd.score}")
            return
        s.rating = RatingInfo(score=cmd.score, at=tx.now, comment=cmd.comment)
        if workflow.patched(RATING_CHANNELS):
            # Without a proof the API verified, a rating is the agent's own word.
            s.rating.channel = cmd.rating_channel or RatingChannel.AGENT_UNCONFIRMED
            s.rating.tiers = dict(cmd.tiers or {})
            if cmd.rating_proof is not None:
                s.rating_proofs.append(cmd.rating_proof)
        await self._after_rating(tx, cmd.actor)

    async def _do_callback(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        assert s.rectification is not None and cmd.reached is not None
        s.rectification.callbacks.append(
            CallbackInfo(at=tx.now, by=cmd.actor.sub, reached=cmd.reached, note=cmd.note)
        )
        if cmd.reached:
            # Reached: the callback limit is met. Not reached, the office calls again and the
            # limit still counts (its ladder climbs on).
            clocks.drop_clocks(s, ClockName.CALLBACK)
        reached = "reached" if cmd.reached else "not reached"
        self._move(tx, cmd, s.stage, kind="rectification", note=f"{reached}: {cmd.note}")

    async def _do_rectify(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        rect = s.rectification
        if rect is not None:
            rect.outcome = cmd.outcome
            if cmd.outcome == "scheduled":
                await self._schedule_fix(cmd, tx, rect)
                return
            clocks.drop_clocks(s, ClockName.CALLBACK, ClockName.RECTIFY_DUE, ClockName.APPEAL)
        s.rectified = True
        clocks.drop_clocks(self._state, ClockName.RECTIFICATION)
        note = f"{cmd.outcome}: {cmd.note}" if rect is not None else None
        self._move(tx, cmd, Stage.COMPLETED, kind="rectification", note=note)
        s.status = "closed"
        # The resident may now rate the fix, within the rating window.
        window = LimitSpec(self._policy.rating_window_natural_days, "natural")
        await self._start_clocks(
            tx,
            [clocks.query(ClockName.FIX_RATING, tx.now, [window], ladder=False)],
            offices={ClockName.FIX_RATING: s.village},
            expiry={ClockName.FIX_RATING: Expiry.CLOSE},
        )

    async def _schedule_fix(self, cmd: ActionCommand, tx: Tx, rect: RectificationInfo) -> None:
        """限期整改: settled within the rectification limit by a promise; the due date is a clock
        of its own on the ladder, until a later ``rectify`` with ``fixed``."""
        assert cmd.due is not None
        rect.due = cmd.due
        clocks.drop_clocks(self._state, ClockName.RECTIFICATION)
        due = clocks.query(ClockName.RECTIFY_DUE, tx.now, [])
        due.until = cmd.due
        await self._start_clocks(tx, [due], offices={ClockName.RECTIFY_DUE: rect.office})
        note = f"scheduled by {cmd.due}: {cmd.note}"
        self._move(tx, cmd, self._state.stage, kind="rectification", note=note)

    async def _do_appeal_rating(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        assert s.rating is not None
        s.rating.appeal = "pending"
        reviewer = self._scope_supervisor()
        if s.rectification is not None:
            reviewer = s.rectification.appeal_reviewer or reviewer
            clocks.drop_clocks(s, ClockName.APPEAL)  # the window is used
        self._move(tx, cmd, s.stage, kind="rectification")
        self._notify(tx, reviewer, "supervisor", "差评申诉待复核")

    async def _do_review_appeal(self, cmd: ActionCommand, tx: Tx) -> None:
        s = self._state
        assert s.rating is not None and cmd.upheld is not None
        s.rating.appeal = "upheld" if cmd.upheld else "rejected"
        if cmd.upheld:
            clocks.drop_clocks(self._state, ClockName.RECTIFICATION)
            self._close(tx, cmd, Stage.COMPLETED, kind="rectification")
        else:
            self._move(tx, cmd, s.stage, kind="rectification")
        rect = s.rectification
        if rect is not None:
            verdict = "申诉成立，该评价不计入统计" if cmd.upheld else "申诉不成立，请继续整改"
            self._notify(tx, rect.office, self._role_of(rect.office), f"差评申诉复核：{verdict}")

    # --- a rating's outcome --------------------------------------------------------------------

    async def _after_rating(self, tx: Tx, actor: Actor) -> None:
        s = self._state
        assert s.rating is not None
        clocks.drop_clocks(self._state, ClockName.RATING)
        note = f"score {s.rating.score}" + (" (default)" if s.rating.is_default else "")
        channels = workflow.patched(RATING_CHANNELS)
        if channels:
            note += "".join(f", {tier} {score}" for tier, score in s.rating.tiers.items())
            note += f" [{s.rating.channel}]"
        if s.rating.score <= BAD_SCORE or (channels and self._bad_tiers()):
            office = self._rated_office() if channels else self._deciding_office()
            self._history(tx, actor, "rate", s.stage, Stage.RECTIFICATION, note)
            self._event(tx, actor, "rating", "rate", to_stage=Stage.RECTIFICATION, note=note)
            s.stage, s.responsible_office = Stage.RECTIFICATION, office
            self._notify(tx, office, self._role_of(office), "收到差评，请在期限内回访整改")
            if channels:
                self._notify_other_bad_tiers(tx, office)
            days = self._policy.rectification_days
            queries = [clocks.query(ClockName.RECTIFICATION, tx.now, [clocks.wd(days)])]
            if self._callbacks:
                queries += self._rectification_clocks(tx)
            await self._start_clocks(
                tx,
                queries,
                offices={q.name: office for q in queries},
                expiry={ClockName.APPEAL: Expiry.CLOSE},
            )
            if self._callbacks:
                self._open_rectification(tx, office)
        else:
            self._history(tx, actor, "rate", s.stage, Stage.COMPLETED, note)
            self._event(tx, actor, "rating", "rate", to_stage=Stage.COMPLETED, note=note)
            s.stage, s.status = Stage.COMPLETED, "closed"

    def _rectification_clocks(self, tx: Tx) -> list[ClockQuery]:
        """The callback limit (on the ladder) and the appeal window (not: it only closes)."""
        policy = self._policy
        return [
            clocks.query(ClockName.CALLBACK, tx.now, [clocks.wd(policy.callback_days)]),
            clocks.query(ClockName.APPEAL, tx.now, [clocks.wd(policy.appeal_days)], ladder=False),
        ]

    def _open_rectification(self, tx: Tx, office: str) -> None:
        callback = clocks.find_clock(self._state, ClockName.CALLBACK)
        appeal = clocks.find_clock(self._state, ClockName.APPEAL)
        self._state.rectification = RectificationInfo(
            office=office,
            opened_at=tx.now,
            callback_by=callback.deadline if callback else None,
            appeal_by=appeal.deadline if appeal else None,
            appeal_reviewer=clocks.tier_above(self._state, office),
        )

    def _role_of(self, office: str) -> str:
        """Who reads a notification to ``office``: the agent of the village, staff elsewhere."""
        return "agent" if office == self._state.village else "staff"

    def _deciding_office(self) -> str:
        s = self._state
        return s.handling_office or s.responsible_office

    def _tier_office(self, tier: str) -> str:
        s = self._state
        return {"village": s.village, "township": s.township, "city": s.city}[tier]

    def _bad_tiers(self) -> dict[str, int]:
        rating = self._state.rating
        tiers = rating.tiers if rating is not None else {}
        return {tier: score for tier, score in tiers.items() if score <= BAD_SCORE}

    def _rated_office(self) -> str:
        """The office a bad rating is rectified by (谁办理、谁负责, docs/design.md §4): the one
        place that decides it, for the rectification stage to use.

        The tier rated worst, when it alone is worst; two tiers rated equally badly go to the
        deciding office (it answers for the service as a whole), and so does a bad overall
        rating that names no bad tier. The other bad tiers' offices are told
        (``_notify_other_bad_tiers``)."""
        bad = self._bad_tiers()
        if not bad:
            return self._deciding_office()
        worst = min(bad.values())
        tiers = [tier for tier, score in bad.items() if score == worst]
        return self._tier_office(tiers[0]) if len(tiers) == 1 else self._deciding_office()

    def _notify_other_bad_tiers(self, tx: Tx, rated: str) -> None:
        for tier in self._bad_tiers():
            office = self._tier_office(tier)
            if office != rated:
                text = "本级服务收到差评，整改由被评单位牵头，请配合"
                self._notify(tx, office, self._role_of(office), text)
