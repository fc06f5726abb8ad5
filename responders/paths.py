"""Where the responders find tenants' own notice templates."""

from __future__ import annotations

from pathlib import Path

from socpipe.paths import rules_dir


def tenant_templates_dir() -> Path:
    """`rules/notice_templates/<tenant>/{subject,body}.j2` override the defaults for that tenant."""
    return rules_dir() / "notice_templates"
