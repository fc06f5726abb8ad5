"""The intel configuration the README shows is one that loads: the example operators copy stays true."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from detectors.intel.config import IntelConfig

README = Path(__file__).resolve().parents[4] / "README.md"


def test_the_readme_intel_example_is_a_valid_configuration() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Threat intelligence.**") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "the README's threat-intelligence section has no yaml example"
    config = IntelConfig.model_validate(yaml.safe_load(block.group(1)))
    assert [f.name for f in config.feeds] == ["cert-feed", "acme-own"]
    assert config.feeds[1].tenants == ["acme"] and config.allow["acme"] == ["203.0.113.7", "partner.example"]
