"""Readers of indicator feed formats: STIX 2.1 bundles, MISP event JSON, CSV and plain text lists."""
