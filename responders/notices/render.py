"""Notice messages from Jinja2 templates, with the tenant's sensitive fields redacted first.

Templates never see a sensitive value: the context is redacted before rendering, so no template (a
tenant's own included) can leak one by mistake. Event values are neutralised too (quoting.py): no
template can print a line break an attacker put in a host or user name. They run in Jinja2's
sandbox with StrictUndefined, so a typo in a template is an error at start-up (every template is
rendered once on a sample), not a blank.
A tenant's own templates, if any, live in `rules/notice_templates/<tenant>/` and win over the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from responders.notices.quoting import finalize, neutralise_all, quoted
from responders.redaction import REDACTED, redact, scrub
from schemas.detection import INTEL_RESTRICTED_RULE_ID, INTEL_RULE_ID
from schemas.incident import Incident
from schemas.tenant import Tenant

__all__ = ["REDACTED", "Rendered", "Renderer", "notice_context", "redact", "scrub"]

TEMPLATES = ("subject", "body")
KINDS = {"notice": "", "escalation": "escalation_"}  # an escalation goes to the provider's on-call
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates"


def notice_context(incident: Incident, tenant: Tenant, state: str) -> dict[str, Any]:
    """What templates and webhook payloads see: the incident summary, redacted for the tenant."""
    summary = incident.model_dump(
        mode="json",
        include={
            "id",
            "title",
            "status",
            "severity",
            "entity",
            "techniques",
            "rule_ids",
            "first_seen",
            "last_seen",
            "detection_count",
            "assignee",
            "verdict",
            "personal_data",
            "gdpr_deadline",
        },
    )
    removed: list[str] = []
    redacted = redact(summary, tenant.sensitive_fields, removed=removed)
    redacted["title"] = scrub(redacted["title"], removed)
    return {
        # Titles and entities come from the client's events: one line each, bounded (quoting.py).
        "incident": neutralise_all(redacted),
        "intel": intel_context(incident.rule_ids),
        "tenant": {"id": tenant.id, "name": tenant.name},
        "state": state,
        "change": state.split(":", 1)[0],
    }


def intel_context(rule_ids: list[str]) -> dict[str, bool]:
    """Whether a threat-intelligence indicator matched, and whether one was TLP:RED / AMBER+STRICT.

    The matcher (detectors/intel) already keeps a restricted indicator out of the rule title and the
    entity; this only lets the notice say that such an indicator matched and how to ask about it.
    """
    restricted = INTEL_RESTRICTED_RULE_ID in rule_ids
    return {"matched": restricted or INTEL_RULE_ID in rule_ids, "restricted": restricted}


@dataclass
class Rendered:
    subject: str
    body: str


class Renderer:
    def __init__(self, tenant_dir: Path | None = None) -> None:
        paths = [str(tenant_dir)] if tenant_dir and tenant_dir.is_dir() else []
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader([*paths, str(DEFAULT_DIR)]),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=finalize,
        )
        self.env.filters["q"] = quoted

    def render(self, tenant_id: str, context: dict[str, Any], *, kind: str = "notice") -> Rendered:
        parts = {}
        for part in TEMPLATES:
            name = KINDS[kind] + part
            template = self.env.select_template([f"{tenant_id}/{name}.j2", f"{name}.j2"])
            parts[part] = template.render(context)
        return Rendered(subject=" ".join(parts["subject"].split()), body=parts["body"])

    def check(self, tenants: list[Tenant], sample: Incident) -> list[str]:
        """Render every tenant's templates once; return the problems (for the start-up check)."""
        problems = []
        for tenant in tenants:
            try:
                self.render(tenant.id, notice_context(sample, tenant, "open"))
            except TemplateError as exc:
                problems.append(f"tenant {tenant.id}: notice template: {exc}")
        return problems
