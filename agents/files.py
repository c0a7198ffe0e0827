"""Reading the YAML configuration files (detection rules, subscriptions): shell code,
kept apart from the pure parsers so the core never opens a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.settings import Settings
from detector.errors import ConfigError
from detector.opconfig import DetectionConfig, parse_detection_config


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; a ``ConfigError`` naming the file otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} file must be a mapping at the top level")
    return data


def load_detection_config(settings: Settings) -> DetectionConfig:
    """The detection rules file, or the defaults; a mistake fails at start."""
    path = settings.detection_config
    if path is None:
        return DetectionConfig()
    return parse_detection_config(read_yaml(path, "detection rules"), str(path))
