"""The chaos gateway's count of notifications sent twice: a repeat of a send that a killed
worker could not mark is told apart; any other repeat fails the run."""

from __future__ import annotations

from chaos.webhook import KILL_MARGIN, Webhook


def accepted(hook: Webhook, key: str, *at: float) -> None:
    hook.accepted[key] = len(at)
    hook.accepted_at[key] = list(at)


def test_only_a_repeat_across_a_kill_just_after_the_send_is_told_apart() -> None:
    hook = Webhook()
    hook.kills = [100.0]
    accepted(hook, "killed-mid-send", 99.99, 104.0)  # posted, then the worker died unmarked
    accepted(hook, "no-kill-between", 10.0, 12.0)
    accepted(hook, "long-before-the-kill", 100.0 - KILL_MARGIN - 0.5, 104.0)
    accepted(hook, "three-times", 99.99, 104.0, 108.0)
    accepted(hook, "once", 99.99)
    twice = {line.split(":")[0] for line in hook.sent_twice()}
    assert twice == {"no-kill-between", "long-before-the-kill", "three-times"}
    assert hook.repeats_after_kill() == ["killed-mid-send"]
