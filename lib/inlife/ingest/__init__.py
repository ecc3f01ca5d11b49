"""Ingestion: landing extracts -> raw.<source> (typed, deduplicated) and quarantine.<source> (bad rows).

Modules: ``landing`` (folders, file heads, reading lines), ``transform`` (pure DataFrame transforms:
typing and classification), ``suites`` (Great Expectations suites from the contract), ``pipeline``
(the orchestration: stage, validate, commit).
"""
