"""Compliance evidence: the hash-chained, per-tenant record an auditor pulls and verifies.

recorder writes items idempotently; chain appends blocks; claims keeps a subject written at most once;
verify, anchors and audit check a chain; records and documents define what is hashed and stored.
"""
