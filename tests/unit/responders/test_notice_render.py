"""Notice messages: sensitive fields never reach a template, and a broken template fails at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from responders.notices.render import REDACTED, Renderer, notice_context, redact
from schemas.detection import Entity
from schemas.incident import Incident, Verdict
from schemas.tenant import Tenant

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _incident(**changes: object) -> Incident:
    base = Incident(
        id="inc-1",
        tenant="acme",
        title="Rule X on alice",
        severity="high",
        group_key="user=alice",
        entity=Entity(user="alice", source_ip="192.0.2.7"),
        first_seen=NOW,
        last_seen=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


def test_redact_by_path_and_by_key_anywhere() -> None:
    """`entity.user` redacts that path; `source_ip` redacts that key at any depth; empty values stay."""
    data = {"entity": {"user": "alice", "host": "ws", "source_ip": "1.2.3.4"}, "other": {"source_ip": None}}
    out = redact(data, ["entity.user", "source_ip"])
    assert out == {
        "entity": {"user": REDACTED, "host": "ws", "source_ip": REDACTED},
        "other": {"source_ip": None},
    }


def test_rendered_notice_never_contains_a_sensitive_value() -> None:
    """Not in the fields, and not where free text (the title) quotes them."""
    tenant = Tenant(id="acme", name="ACME", sensitive_fields=["user", "source_ip"])
    rendered = Renderer().render("acme", notice_context(_incident(), tenant, "open"))
    assert "alice" not in rendered.subject + rendered.body
    assert "192.0.2.7" not in rendered.body
    assert REDACTED in rendered.body and rendered.subject == "[HIGH] New incident: Rule X on [redacted]"


def test_subject_and_body_follow_the_change() -> None:
    """Open, escalate, acknowledge and close each say what happened; close names the verdict."""
    tenant = Tenant(id="acme", name="ACME")
    renderer = Renderer()
    subjects = {
        state: renderer.render(
            "acme", notice_context(_incident(verdict=Verdict.benign), tenant, state)
        ).subject
        for state in ("open", "escalate:critical", "acknowledge", "close")
    }
    assert subjects["open"].startswith("[HIGH] New incident")
    assert "escalated" in subjects["escalate:critical"]
    assert "acknowledged" in subjects["acknowledge"]
    assert "closed" in subjects["close"]
    body = renderer.render("acme", notice_context(_incident(verdict=Verdict.benign), tenant, "close")).body
    assert "verdict: benign" in body


def test_gdpr_deadline_is_announced_for_personal_data_incidents() -> None:
    """The body names the art. 33 deadline when the incident has one."""
    body = (
        Renderer()
        .render("acme", notice_context(_incident(gdpr_deadline=NOW), Tenant(id="acme", name="A"), "open"))
        .body
    )
    assert "GDPR article 33" in body and NOW.isoformat().replace("+00:00", "Z") in body


def test_a_tenants_own_template_wins_and_a_broken_one_is_reported(tmp_path: Path) -> None:
    """rules/notice_templates/<tenant>/ overrides; an undefined name is an error found by check()."""
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "subject.j2").write_text("ACME: {{ incident.title }}")
    (tmp_path / "globex").mkdir()
    (tmp_path / "globex" / "body.j2").write_text("{{ incident.no_such_field }}")
    renderer = Renderer(tmp_path)
    tenants = [Tenant(id="acme", name="A"), Tenant(id="globex", name="G"), Tenant(id="other", name="O")]
    assert (
        renderer.render("acme", notice_context(_incident(), tenants[0], "open")).subject
        == "ACME: Rule X on alice"
    )
    problems = renderer.check(tenants, _incident())
    assert len(problems) == 1 and problems[0].startswith("tenant globex")


def test_templates_run_sandboxed(tmp_path: Path) -> None:
    """A template cannot reach Python internals through the context."""
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "subject.j2").write_text("{{ incident.__class__.__mro__ }}")
    problems = Renderer(tmp_path).check([Tenant(id="evil", name="E")], _incident())
    assert problems and "evil" in problems[0]


def test_a_tenants_own_template_cannot_print_a_line_break_from_event_data(tmp_path: Path) -> None:
    """Even a template printing a value unquoted gets it on one line: the environment neutralises output."""
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "body.j2").write_text("Host: {{ incident.entity.host }}\n")
    context = notice_context(
        _incident(entity=Entity(host="ws\nBcc: x@y\u2028z\x1e")), Tenant(id="acme", name="A"), "open"
    )
    body = Renderer(tmp_path).render("acme", context).body
    assert body == "Host: ws\\x0aBcc: x@y\\u2028z\\x1e\n"


def test_neutralise_is_idempotent_and_bounded() -> None:
    """Escaping twice changes nothing (context and finalize both apply it); a long value is cut."""
    from responders.notices.quoting import neutralise

    once = neutralise("a\r\n\x85\u202e" + "b" * 500)
    assert neutralise(once) == once and len(once) == 200 and once.endswith("…")
    assert "\n" not in once and "\u202e" not in once
