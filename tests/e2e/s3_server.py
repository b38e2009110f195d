"""A real S3-compatible server on loopback: moto's standalone server in its own process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

KEY, SECRET, REGION = "calab-test-key", "calab-test-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    log: Path | None = None  # the server's log: one line per request

    def requests(self) -> list[tuple[str, str]]:
        """``(method, path and query)`` of every request the server has answered so far."""
        if self.log is None:
            return []
        text = self.log.read_text(errors="replace")
        return re.findall(r'"([A-Z]+) (\S+) HTTP/1\.[01]"', text)

    @property
    def storage_options(self) -> dict:
        """s3fs options reaching this server (what a user passes as storage_options)."""
        return {"key": KEY, "secret": SECRET,
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION}}

    @property
    def environment(self) -> dict[str, str]:
        """The standard variables that point s3fs/boto at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION}

    def create_bucket(self, name: str) -> str:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
                              aws_secret_access_key=SECRET, region_name=REGION)
        client.create_bucket(Bucket=name)
        return f"s3://{name}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(log_dir: Path, timeout: float = 60.0) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on 127.0.0.1:<free port>; always stop it."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "moto.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, proc, timeout)
        yield S3Server(endpoint, log_dir / "moto.log")
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait_until_up(endpoint: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with status {proc.returncode}")
        with suppress(OSError), urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
            return
        time.sleep(0.2)
    raise RuntimeError(f"moto server did not answer at {endpoint} within {timeout} s")
