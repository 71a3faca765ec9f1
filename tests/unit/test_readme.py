"""The README is the operator's reference: every setting has a row in its configuration
table, and it links nothing outside the repository."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from hookline.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def configuration_rows() -> set[str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(HOOKLINE_[A-Z_]+)` \|", section, re.MULTILINE))


def test_every_setting_has_a_row_in_the_configuration_table() -> None:
    settings = {"HOOKLINE_" + f.name.upper() for f in fields(Settings) if f.name != "extra"}

    assert sorted(settings - configuration_rows()) == []


def test_the_readme_links_nothing_outside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README.read_text())

    outside = [t for t in targets if "://" in t or t.startswith("../") or t.startswith("/")]
    assert outside == []
