"""Side effects of the request workflow: deadline computation, the supervision ledger, the read
model and notifications. Each activity is idempotent under retries."""
