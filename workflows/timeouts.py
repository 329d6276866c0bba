"""Named timeouts and retry policies: the one place to tune how side effects are retried."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Domain errors an activity raises that no retry can fix (ApplicationError types).
INVALID_DEADLINE_QUERY = "InvalidDeadlineQuery"
NON_RETRYABLE_ERRORS = [INVALID_DEADLINE_QUERY]

# Deadline computation is pure CPU over cached calendar data.
COMPUTE_TIMEOUT = timedelta(seconds=10)
COMPUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Recording writes the ledger, read model and outbox in one transaction. A database outage must
# not lose a transition, so it retries without a limit on attempts; the write is idempotent.
RECORD_TIMEOUT = timedelta(seconds=15)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)
