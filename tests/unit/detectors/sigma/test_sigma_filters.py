"""Sigma filters (global, per tenant), per-tenant placeholder values and disabled rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sigma_helpers import proc, rule_yaml

from detectors.sigma import Engine, TenantConfig

MakeEngine = Callable[..., Engine]
RID = "6a0f9a43-0000-4000-8000-00000000beef"
RULE = rule_yaml("sel:\n  Image|endswith: '\\psexec.exe'\ncondition: sel", rule_id=RID)


def _filter(user: str, rules: str = f"[{RID}]") -> str:
    return f"""title: allow {user}
id: 0d9c5a1e-0000-4000-8000-{abs(hash(user)) % 10**12:012d}
logsource: {{product: windows, category: process_creation}}
filter:
  rules: {rules}
  selection:
    User: '{user}'
  condition: not selection
"""


def test_global_filter_in_rule_folder(make_engine: MakeEngine) -> None:
    """A Sigma filter loaded with the rules suppresses matches it selects, for every tenant."""
    engine = make_engine(RULE, _filter("svc_deploy"))
    assert engine.ruleset.report.filters == 1
    assert not engine.match(proc(Image="c:\\psexec.exe", User="svc_deploy"), "acme")
    assert engine.match(proc(Image="c:\\psexec.exe", User="eve"), "acme")


def test_tenant_filter_applies_to_that_tenant_only(make_engine: MakeEngine, tmp_path: Path) -> None:
    """A filter listed for one tenant tunes the rule for that client without forking it."""
    (tmp_path / "acme-filters").mkdir()
    (tmp_path / "acme-filters" / "psexec.yml").write_text(_filter("svc_deploy"))
    cfg_file = tmp_path / "tenants.yml"
    cfg_file.write_text("tenants:\n  acme:\n    filters: [acme-filters]\n  globex: {}\n")
    engine = make_engine(RULE, config=TenantConfig.load(cfg_file))
    ev = proc(Image="c:\\psexec.exe", User="svc_deploy")
    assert not engine.match(ev, "acme")
    assert engine.match(ev, "globex")
    assert engine.match(ev)  # no tenant: global tuning only


def test_filter_for_any_rule_of_a_logsource(make_engine: MakeEngine) -> None:
    """`rules: any` applies the filter to every rule of its logsource."""
    engine = make_engine(RULE, _filter("svc_deploy", rules="any"))
    assert not engine.match(proc(Image="c:\\psexec.exe", User="svc_deploy"))


def test_tenant_placeholders(make_engine: MakeEngine) -> None:
    """%placeholders% (expand) take tenant values first, then global ones."""
    rule = rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel")
    cfg = TenantConfig.model_validate(
        {
            "placeholders": {"admins": ["root"]},
            "tenants": {"acme": {"placeholders": {"admins": ["ACME\\boss"]}}},
        }
    )
    engine = make_engine(rule, config=cfg)
    assert engine.match(proc(User="acme\\boss"), "acme")
    assert not engine.match(proc(User="root"), "acme")
    assert engine.match(proc(User="root"), "globex")
    assert engine.match(proc(User="root"))


def test_disabled_rule_for_one_tenant(make_engine: MakeEngine) -> None:
    """A tenant can switch a rule off by id."""
    cfg = TenantConfig.model_validate({"tenants": {"acme": {"disabled_rules": [RID]}}})
    engine = make_engine(RULE, config=cfg)
    ev = proc(Image="c:\\psexec.exe")
    assert not engine.match(ev, "acme")
    assert engine.match(ev, "globex")
