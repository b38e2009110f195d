"""Tokens, loopback detection, path confinement and the state-directory lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from calab.cli.main import main
from calab.server.jobs.auth import is_loopback, resolve_token, token_matches
from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.paths import resolve_under_root
from calab.server.jobs.service import StateDirLock

GOOD = "abcdefghijklmnop-0123"


def test_token_matches_only_the_exact_bearer_token() -> None:
    assert token_matches(f"Bearer {GOOD}", GOOD)
    assert token_matches(f"bearer {GOOD}", GOOD)
    for header in (None, "", GOOD, f"Basic {GOOD}", f"Bearer {GOOD}x", f"Bearer {GOOD[:-1]}",
                   "Bearer ", f"Bearer {GOOD.upper()}"):
        assert not token_matches(header, GOOD), header


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False), ("::", False),
    ("example.org", False),
])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_token_sources_and_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALAB_TOKEN", raising=False)
    with pytest.raises(ValueError, match=r"0\.0\.0\.0"):
        resolve_token("0.0.0.0", None, tmp_path)
    token, source = resolve_token("127.0.0.1", None, tmp_path)
    assert (tmp_path / "token").read_text().strip() == token and len(token) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "token").st_mode) == 0o600
    assert "generated" in source
    monkeypatch.setenv("CALAB_TOKEN", GOOD)
    assert resolve_token("0.0.0.0", None, tmp_path) == (GOOD, "CALAB_TOKEN")
    token_file = tmp_path / "secret"
    token_file.write_text("  file-token-0123456789  \n")
    assert resolve_token("0.0.0.0", token_file, tmp_path)[0] == "file-token-0123456789"
    token_file.write_text("short")
    with pytest.raises(ValueError, match="at least 16"):
        resolve_token("0.0.0.0", token_file, tmp_path)
    with pytest.raises(ValueError, match="cannot be read"):
        resolve_token("0.0.0.0", tmp_path / "missing", tmp_path)


def test_serve_refuses_public_host_without_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALAB_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--data-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "CALAB_TOKEN" in result.output and "--token-file" in result.output
    result = CliRunner().invoke(main, ["serve", "--data-root", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "--data-root" in result.output


def test_paths_are_confined(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "a").mkdir()
    assert resolve_under_root("input", "a/b.zarr", root) == ("a/b.zarr", root / "a" / "b.zarr")
    assert resolve_under_root("input", "./a//b.zarr", root)[0] == "a/b.zarr"
    for bad, status in [("../x", 403), ("a/../../x", 403), ("/abs", 403), ("~/x", 403),
                        ("", 422), (".", 422), ("a\\..\\x", 422), ("a\x00b", 422), (3, 422)]:
        with pytest.raises(JobRequestError) as info:
            resolve_under_root("input", bad, root)
        assert info.value.status == status and info.value.field == "input", bad


def test_state_dir_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    first = StateDirLock(tmp_path)
    first.acquire()
    second = StateDirLock(tmp_path)
    with pytest.raises(RuntimeError, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
