"""The top-level packages imported are this project's, not PyTables' ``tables`` or another
``agents``: the names are generic, so a clash must fail loudly here, not at run time."""

from __future__ import annotations

import re
from pathlib import Path

import agents
import detector
import tables

ROOT = Path(__file__).resolve().parents[2]
SHELL_MODULES = {"cli.py", "settings.py", "files.py", "commands.py"}
FORBIDDEN = [
    r"^\s*(import|from) (faust|aiokafka|aiosmtplib|aiohttp|agents|tables|socket|time)\b",
    r"datetime\.now\(|time\.time\(|open\(",
]


def test_top_level_packages_are_ours() -> None:
    for package in (agents, detector, tables):
        assert package.__file__ is not None
        assert Path(package.__file__).resolve().parent.parent == ROOT, package.__name__


def test_core_does_not_import_the_shell() -> None:
    """Dependencies point inward: the pure core reads no clock, file, socket or Kafka."""
    for path in (ROOT / "detector").rglob("*.py"):
        if path.name in SHELL_MODULES:
            continue
        text = path.read_text()
        for pattern in FORBIDDEN:
            found = re.search(pattern, text, re.MULTILINE)
            assert found is None, f"{path.relative_to(ROOT)}: {found.group(0)!r}"
