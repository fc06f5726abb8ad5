"""HTTP API keys: hashed or clear keys per tenant, refused at start when wrong, looked up by digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.shippers.http import ApiKeys, KeyFileError, digest


def test_keys_map_to_their_tenant_and_parsers(tmp_path: Path) -> None:
    """A clear key and a sha256-stored key both resolve; a wrong key resolves to nothing."""
    path = tmp_path / "keys.yml"
    path.write_text(
        f"tenants:\n  acme:\n    keys: [acme-secret]\n  globex:\n    keys: ['{digest('globex-secret')}']\n"
        "    parsers: [json, cloudtrail]\n"
    )
    keys = ApiKeys.load(path)
    acme, globex = keys.lookup("acme-secret"), keys.lookup("globex-secret")
    assert acme is not None and acme.tenant == "acme" and acme.parsers is None
    assert globex is not None and globex.tenant == "globex" and globex.parsers == {"json", "cloudtrail"}
    assert keys.lookup("acme-secret ") is None and keys.lookup(digest("acme-secret")) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tenants:\n  acme:\n    keys: [a]\n  beta:\n    keys: [a]\n", "already acme's"),
        ("tenants:\n  acme:\n    keys: [a]\n    parsers: [evtx]\n", "unknown ['evtx']"),
        ("tenants:\n  Bad Tenant:\n    keys: [a]\n", "tenants.Bad Tenant"),
        ("tenants:\n  acme:\n    keys: []\n", "keys"),
        ("tenants: [\n", "keys.yml"),
    ],
)
def test_bad_key_files_are_refused_naming_the_place(tmp_path: Path, text: str, problem: str) -> None:
    """Shared keys, unknown parsers, bad tenant ids, empty key lists and broken YAML stop the start."""
    path = tmp_path / "keys.yml"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=r"keys\.yml") as info:
        ApiKeys.load(path)
    assert problem in str(info.value)
