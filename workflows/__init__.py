"""Deterministic workflow code: stdlib, temporalio and the contracts only."""
