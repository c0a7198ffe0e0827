"""The top-level packages imported are this project's, not PyTables' ``tables`` or another
``agents``: the names are generic, so a clash must fail loudly here, not at run time."""

from __future__ import annotations

from pathlib import Path

import agents
import detector
import tables

ROOT = Path(__file__).resolve().parents[2]


def test_top_level_packages_are_ours() -> None:
    for package in (agents, detector, tables):
        assert package.__file__ is not None
        assert Path(package.__file__).resolve().parent.parent == ROOT, package.__name__


def test_core_does_not_import_the_shell() -> None:
    """Dependencies point inward: the pure core never imports Faust, Kafka or the shell."""
    shell_modules = {"cli.py", "settings.py"}
    forbidden = (
        "import faust",
        "from faust",
        "aiokafka",
        "from agents",
        "from tables",
        "import time",
        "from time",
        "aiosmtplib",
        "import socket",
    )
    for path in (ROOT / "detector").rglob("*.py"):
        if path.name in shell_modules:
            continue
        text = path.read_text()
        for word in forbidden:
            assert word not in text, f"{path.relative_to(ROOT)} uses {word!r}"
