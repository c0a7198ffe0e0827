"""Prometheus and Alertmanager as real subprocesses for the tests: loopback only, state
in the test's temp dir, stopped by the fixture that started them."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import free_port


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} missing (deploy/test.sh installs Debian's package)")
    return path


class Server:
    """One server process; ``start`` returns once ``ready_path`` answers 200."""

    def __init__(self, argv: list[str], port: int, ready_path: str, log: Path) -> None:
        self.argv, self.port, self.ready_path, self.log_path = argv, port, ready_path, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"{self.argv[0]} not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())


def prometheus(config: Path, data: Path) -> Server:
    port = free_port()
    argv = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Server(argv, port, "/-/ready", data.parent / "prometheus.log")


def alertmanager(config: Path, data: Path, port: int | None = None) -> Server:
    port = port or free_port()
    argv = [
        binary("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # No gossip port: one instance, nothing else bound.
    ]
    return Server(argv, port, "/-/ready", data.parent / "alertmanager.log")
