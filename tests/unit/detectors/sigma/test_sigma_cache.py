"""The on-disk rule cache: a warm load gives the same engine, every input of the key rebuilds it, and
an entry that is unreadable or of another version is never trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sigma_helpers import proc, rule_yaml
from structlog.testing import capture_logs

from detectors.sigma import Engine, TenantConfig, load_rules
from detectors.sigma import cache as cache_mod
from detectors.sigma import loader as loader_mod
from detectors.sigma.cache import RuleCache
from detectors.sigma.pipeline import Pipeline
from detectors.sigma.report import LoadReport

RULE = rule_yaml(
    "sel:\n  CommandLine|contains: mimikatz\ncondition: sel", rule_id="11111111-1111-4111-8111-111111111111"
)
EXPAND = rule_yaml(
    "sel:\n  Image|expand: '%admin_tools%'\ncondition: sel", rule_id="22222222-2222-4222-8222-222222222222"
)
HIT = proc(CommandLine="x mimikatz y", Image="C:\\tools\\psexec.exe")


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "a.yml").write_text(RULE, encoding="utf-8")
    (d / "b.yml").write_text(EXPAND, encoding="utf-8")
    return d


@pytest.fixture
def store(tmp_path: Path) -> RuleCache:
    return RuleCache(tmp_path / "cache")


def _ids(engine: Engine, event: dict[str, object], tenant: str | None = None) -> list[str]:
    return sorted(m.rule.id for m in engine.match(event, tenant))


def test_warm_load_matches_like_cold(rules: Path, store: RuleCache) -> None:
    """The second load comes from the cache and finds the same detections with the same metadata."""
    cold = load_rules([rules], cache=store)
    warm = load_rules([rules], cache=store)
    assert (cold.from_cache, warm.from_cache) == (False, True)
    assert [r.info for r in warm.rules] == [r.info for r in cold.rules]
    assert warm.report.loaded == cold.report.loaded == 2
    assert _ids(Engine(warm), HIT) == _ids(Engine(cold), HIT) == ["11111111-1111-4111-8111-111111111111"]
    match = Engine(warm).match(HIT)[0]
    assert match.matched == {"CommandLine": "x mimikatz y"}
    assert match.rule.author == "tester"


def test_rule_file_change_rebuilds(rules: Path, store: RuleCache) -> None:
    """Editing a rule file (same path, new content) misses the cache and the new condition applies."""
    load_rules([rules], cache=store)
    (rules / "a.yml").write_text(RULE.replace("mimikatz", "rubeus"), encoding="utf-8")
    again = load_rules([rules], cache=store)
    assert not again.from_cache
    assert _ids(Engine(again), HIT) == []
    assert load_rules([rules], cache=store).from_cache


def test_added_file_rebuilds(rules: Path, store: RuleCache) -> None:
    """A new rule file changes the key."""
    load_rules([rules], cache=store)
    (rules / "c.yml").write_text(RULE.replace("1111-4111", "3333-4333"), encoding="utf-8")
    again = load_rules([rules], cache=store)
    assert not again.from_cache and again.report.loaded == 3


def test_pipeline_change_rebuilds(rules: Path, store: RuleCache) -> None:
    """Another pipeline version, or another field mapping, misses the cache and maps fields anew."""
    base = Pipeline.load()
    load_rules([rules], cache=store, pipeline=base)
    bumped = base.model_copy(update={"version": base.version + 1})
    assert not load_rules([rules], cache=store, pipeline=bumped).from_cache
    mapped = base.model_copy(update={"field_mappings": {**base.field_mappings, "CommandLine": ["cmd"]}})
    ruleset = load_rules([rules], cache=store, pipeline=mapped)
    assert not ruleset.from_cache
    assert _ids(Engine(ruleset), proc(cmd="mimikatz")) == ["11111111-1111-4111-8111-111111111111"]


def test_engine_version_change_rebuilds(
    rules: Path, store: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other engine code (its source hash) or another cache format misses every entry."""
    load_rules([rules], cache=store)
    monkeypatch.setattr(cache_mod, "_code_hash", "another engine")
    assert not load_rules([rules], cache=store).from_cache
    monkeypatch.setattr(cache_mod, "CACHE_FORMAT", cache_mod.CACHE_FORMAT + 1)
    assert not load_rules([rules], cache=store).from_cache


def test_placeholders_and_tenant_filters_apply_over_a_warm_cache(
    rules: Path, store: RuleCache, tmp_path: Path
) -> None:
    """Placeholder values and tenant filters are applied after the cache: a warm load honours
    whatever values and filters are given now."""
    load_rules([rules], cache=store)
    warm = load_rules([rules], cache=store, placeholders={"admin_tools": ["C:\\tools\\psexec.exe"]})
    assert warm.from_cache
    assert "22222222-2222-4222-8222-222222222222" in _ids(Engine(warm), HIT)
    flt = tmp_path / "quiet.yml"
    flt.write_text(
        "title: quiet\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n"
        "  rules: [11111111-1111-4111-8111-111111111111]\n  sel:\n    Image|endswith: psexec.exe\n"
        "  condition: not sel\n",
        encoding="utf-8",
    )
    config = TenantConfig.model_validate(
        {"placeholders": {"admin_tools": ["C:\\nothing.exe"]}, "tenants": {"acme": {"filters": [str(flt)]}}}
    )
    engine = Engine(load_rules([rules], cache=store), config)
    assert _ids(engine, HIT) == ["11111111-1111-4111-8111-111111111111"]
    assert _ids(engine, HIT, "acme") == []


def test_corrupt_entry_is_rebuilt_with_a_log_line(rules: Path, store: RuleCache) -> None:
    """A truncated or garbled entry is ignored (logged) and replaced by a good one."""
    load_rules([rules], cache=store)
    assert store.directory is not None
    (entry,) = store.directory.glob("*.rules")
    blob = entry.read_bytes()
    entry.write_bytes(blob[: len(blob) // 2])
    with capture_logs() as logs:
        again = load_rules([rules], cache=store)
    assert not again.from_cache
    assert any("rule cache" in str(line.get("event")) for line in logs)
    assert _ids(Engine(again), HIT) == ["11111111-1111-4111-8111-111111111111"]
    assert load_rules([rules], cache=store).from_cache


def test_entry_of_another_version_is_not_trusted(rules: Path, store: RuleCache) -> None:
    """An entry whose header names another format is rebuilt, even under the expected file name."""
    load_rules([rules], cache=store)
    assert store.directory is not None
    (entry,) = store.directory.glob("*.rules")
    blob = entry.read_bytes()
    entry.write_bytes(blob.replace(f"{cache_mod.CACHE_FORMAT}:".encode(), b"999:", 1))
    with capture_logs() as logs:
        assert not load_rules([rules], cache=store).from_cache
    assert any("another version" in str(line.get("event")) for line in logs)


def test_cache_off(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SOCPIPE_RULE_CACHE=off: nothing is read or written."""
    monkeypatch.setenv("SOCPIPE_RULE_CACHE", "off")
    assert cache_mod.cache_dir() is None
    assert not load_rules([rules]).from_cache
    assert not load_rules([rules]).from_cache


def test_tenant_filter_file_change_applies(rules: Path, store: RuleCache, tmp_path: Path) -> None:
    """Tenant filter files go through the cache too (keyed by their content): an edited filter file
    is lowered anew and applies at the next engine build."""
    flt = tmp_path / "quiet.yml"
    text = (
        "title: quiet\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n"
        "  rules: [11111111-1111-4111-8111-111111111111]\n  sel:\n    Image|endswith: psexec.exe\n"
        "  condition: not sel\n"
    )
    flt.write_text(text, encoding="utf-8")
    config = TenantConfig.model_validate({"tenants": {"acme": {"filters": [str(flt)]}}})
    ruleset = load_rules([rules], cache=store)
    assert _ids(Engine(ruleset, config), HIT, "acme") == []
    assert _ids(Engine(ruleset, config), HIT, "acme") == []  # second build: the filter from the cache
    flt.write_text(text.replace("psexec.exe", "other.exe"), encoding="utf-8")
    assert _ids(Engine(ruleset, config), HIT, "acme") == ["11111111-1111-4111-8111-111111111111"]


def test_one_edited_file_is_the_only_one_parsed(
    rules: Path, store: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing one rule file misses the rule-set entry, but the other files come from the per-file
    table: only the edited file is parsed again, and the result equals a load without any cache."""
    (rules / "c.yml").write_text(RULE.replace("1111-4111", "3333-4333"), encoding="utf-8")
    load_rules([rules], cache=store)
    parsed: list[str] = []
    real = loader_mod.parse_file

    def counting(path: Path, report: LoadReport) -> list[object]:
        parsed.append(path.name)
        return real(path, report)

    monkeypatch.setattr(loader_mod, "parse_file", counting)
    (rules / "a.yml").write_text(RULE.replace("mimikatz", "rubeus"), encoding="utf-8")
    again = load_rules([rules], cache=store)
    assert not again.from_cache and parsed == ["a.yml"]
    fresh = load_rules([rules], cache=RuleCache(None))
    assert [r.info for r in again.rules] == [r.info for r in fresh.rules]
    assert _ids(Engine(again), HIT) == _ids(Engine(fresh), HIT) == ["11111111-3333-4333-8111-111111111111"]
    assert _ids(Engine(again), proc(CommandLine="rubeus")) == ["11111111-1111-4111-8111-111111111111"]


def test_duplicate_ids_across_files_reported_from_the_table(rules: Path, store: RuleCache) -> None:
    """A rule id found in two files is refused in the second file, whether the files were parsed now
    or come from the per-file table."""
    (rules / "c.yml").write_text(RULE.replace("mimikatz", "rubeus"), encoding="utf-8")  # a.yml's id
    cold = load_rules([rules], cache=store)
    (rules / "b.yml").write_text(EXPAND + "\n", encoding="utf-8")  # the set entry misses, a and c do not
    warm = load_rules([rules], cache=store)
    for ruleset in (cold, warm):
        assert ruleset.report.loaded == 2
        (problem,) = ruleset.report.failed
        assert problem.path is not None and problem.path.endswith("c.yml")
        assert "duplicate rule id, first loaded from" in problem.reason and "a.yml" in problem.reason
