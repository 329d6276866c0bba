"""Named timeouts and retry policies: the one place to tune how side effects are retried."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Domain errors an activity raises that no retry can fix (ApplicationError types).
INVALID_DEADLINE_QUERY = "InvalidDeadlineQuery"
NON_RETRYABLE_ERRORS = [INVALID_DEADLINE_QUERY]
# What an action answers when its deadlines cannot be computed now: nothing was applied.
DEADLINES_UNAVAILABLE = "DeadlinesUnavailable"

# The workflow's own transitions (registration, rungs, calendar recomputation) never give up:
# after a failed attempt (each is a full ``COMPUTE_RETRY`` round) they wait, longer each time.
SYSTEM_RETRY_FIRST = timedelta(seconds=30)
SYSTEM_RETRY_MAX = timedelta(minutes=10)

# Deadline computation is pure CPU over cached calendar data; it fails only when the calendar was
# never read (a worker started while the database is away) or must be re-read (a calendar edit).
# A few quick attempts: an action then answers at once that it cannot be applied now, and the
# workflow's own transitions wait on a durable timer (SYSTEM_RETRY_*) instead of holding a
# workflow task for ~43 s of local retries.
COMPUTE_TIMEOUT = timedelta(seconds=10)
COMPUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Recording writes the ledger, read model and outbox in one transaction. A database outage must
# not lose a transition, so it retries without a limit on attempts; the write is idempotent. It
# heartbeats while it writes: a worker that died or hangs mid-write is noticed after
# ``RECORD_HEARTBEAT`` and the attempt given to another, and the abandoned attempt commits nothing.
RECORD_TIMEOUT = timedelta(seconds=15)
RECORD_HEARTBEAT = timedelta(seconds=5)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)
