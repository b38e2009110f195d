"""``calab serve``: bad object-storage settings are refused before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from calab.cli.main import main


@pytest.mark.parametrize(("args", "env", "text"), [
    (["--allow-url", "/not/a/url"], {}, "--allow-url"),
    ([], {"CALAB_ALLOW_URLS": "s3://lab/ok/ s3://k:s@lab/rec/"}, "embeds credentials"),
    (["--allow-url", "s3://lab/ok/", "--url-storage-options", "{bad"], {},
     "--url-storage-options='{bad' is not valid JSON"),
    ([], {"CALAB_URL_STORAGE_OPTIONS": "[1]"}, "--url-storage-options=[1] must be a dict"),
])
def test_bad_url_settings_are_usage_errors_naming_the_setting(tmp_path, args, env, text):
    done = CliRunner().invoke(main, ["serve", "--data-root", str(tmp_path), *args], env=env)
    assert done.exit_code == 2, done.output
    assert text in done.output
    assert not (tmp_path / ".calab-service" / "lock").exists()  # no service was started
