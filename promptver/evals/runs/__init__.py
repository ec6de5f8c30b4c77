"""Stored runs: the runs/ folder, the audit event that records a run, read-only
summaries and what counts as evidence, run tags."""
