"""``calab jobs``: the client of the job service (``calab serve``)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from calab.cli.options import (
    auto_from_flags,
    parameter_options,
    params_from_flags,
    solver_options,
)
from calab.core.options import DEFAULT_NAN_POLICY

TERMINAL = ("succeeded", "failed", "cancelled")


class ServiceClient:
    """A minimal JSON client for the job API (standard library only).

    Parameters
    ----------
    server : str
        Base URL, e.g. ``http://127.0.0.1:8000``.
    token : str or None
        Bearer token.
    timeout : float
        Seconds per request.

    Example
    -------
    >>> client = ServiceClient("http://127.0.0.1:8000", token)  # doctest: +SKIP
    >>> client.request("GET", "/api/v1/jobs")["total"]           # doctest: +SKIP
    """

    def __init__(self, server: str, token: str | None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request and return the decoded JSON; raise ClickException on errors."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.server + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise click.ClickException(_http_error_message(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise click.ClickException(
                f"cannot reach the job service at {self.server}: {reason}"
            ) from None


def _http_error_message(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
    except ValueError:
        payload = {}
    message = payload.get("error") or exc.reason
    field = payload.get("field")
    where = f" (field: {field})" if field else ""
    hint = " Set CALAB_TOKEN or pass --token-file." if exc.code == 401 else ""
    return f"HTTP {exc.code}: {message}{where}{hint}"


def _client(ctx: click.Context) -> ServiceClient:
    """The group's client, with ``--server``/``--token-file`` given after the subcommand winning."""
    client: ServiceClient = ctx.find_object(ServiceClient)  # type: ignore[assignment]
    server, token_file = ctx.meta.get("calab_jobs.server"), ctx.meta.get("calab_jobs.token_file")
    if server is None and token_file is None:
        return client
    token = _read_token(token_file) if token_file is not None else client.token
    return ServiceClient(server or client.server, token)


def _read_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        return token_file.read_text(encoding="utf-8").strip()
    return os.environ.get("CALAB_TOKEN", "").strip() or None


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        ctx.meta[f"calab_jobs.{param.name}"] = value


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--server`` and ``--token-file`` on a subcommand too (``calab jobs list --server URL``)."""
    command = click.option("--token-file", type=click.Path(dir_okay=False, exists=True,
                           path_type=Path), default=None, expose_value=False, callback=_remember,
                           help="File holding the token (overrides the group option).")(command)
    return click.option("--server", default=None, expose_value=False, callback=_remember,
                        help="URL of the job service (overrides the group option).")(command)


@click.group()
@click.option("--server", envvar="CALAB_SERVER", default="http://127.0.0.1:8000",
              show_default=True, help="URL of the job service (env CALAB_SERVER).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="File holding the token (default: env CALAB_TOKEN).")
@click.pass_context
def jobs(ctx: click.Context, server: str, token_file: Path | None) -> None:
    """Submit, watch, list and cancel jobs on a calab job service (calab serve).

    The bearer token comes from the environment variable CALAB_TOKEN or
    --token-file; paths are relative to the service's data root.

    \b
    Example:
      export CALAB_TOKEN=...
      calab jobs --server http://lab-server:8000 submit rec.zarr -o rec_out.zarr \\
          --params catune_export.json --wait
    """
    ctx.obj = ServiceClient(server, _read_token(token_file))


@jobs.command()
@connection_options
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True, help="Output .zarr, relative to the data root.")
@click.option("--dataset", default=None, help="Array name when INPUT is a zarr group.")
@parameter_options
@click.option("--full", is_flag=True, help="Also write baseline, reconvolution, iterations.")
@solver_options
@click.option("--chunk-cells", type=click.IntRange(min=1), default=None)
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def submit(ctx: click.Context, input_path: str, output: str, dataset: str | None,
           params_path: Path | None, fs: float | None, tau_rise: float | None,
           tau_decay: float | None, lam: float | None, filter_enabled: bool | None, full: bool,
           conv_mode: str, max_iters: int, constraint: str, tol: float, nan_policy: str,
           chunk_cells: int | None, wait: bool, as_json: bool) -> None:
    """Submit INPUT (a zarr store under the service's data root) for deconvolution.

    The parameters are read and checked here (an export is sent as its values);
    `--params auto` has the service suggest them from INPUT when the job runs.
    """
    flags = (params_path, fs, tau_rise, tau_decay, lam, filter_enabled)
    auto = auto_from_flags(*flags)
    params = params_from_flags(*flags) if auto is None else {
        key: value for key, value in auto.items() if value is not None}
    options: dict[str, Any] = {"full": full, "conv_mode": conv_mode, "max_iters": max_iters,
                               "constraint": constraint, "tol": tol}
    if nan_policy != DEFAULT_NAN_POLICY:  # the service refuses it by name if it cannot
        options["nan_policy"] = nan_policy
    if chunk_cells is not None:
        options["chunk_cells"] = chunk_cells
    body = {"input": input_path, "output": output, "params": params, "options": options}
    if dataset is not None:
        body["dataset"] = dataset
    client = _client(ctx)
    answer = client.request("POST", "/api/v1/jobs", body)
    if as_json and not wait:
        click.echo(json.dumps(answer))
    elif not as_json:
        click.echo(f"job {answer['id']} queued")
    if wait:
        _wait_and_report(client, answer["id"], as_json)


@jobs.command()
@connection_options
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job record as JSON.")
@click.pass_context
def status(ctx: click.Context, job_id: str, wait: bool, as_json: bool) -> None:
    """Show a job's status and progress (exit code 1 if it failed or was cancelled)."""
    client = _client(ctx)
    if wait:
        _wait_and_report(client, job_id, as_json)
        return
    job = client.request("GET", f"/api/v1/jobs/{job_id}")
    click.echo(json.dumps(job, indent=2) if as_json else _describe(job))


@jobs.command(name="list")
@connection_options
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--status", "status_filter", default=None,
              type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled"]))
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
def list_jobs(ctx: click.Context, limit: int, offset: int, status_filter: str | None,
              as_json: bool) -> None:
    """List jobs, newest first."""
    query = f"?limit={limit}&offset={offset}"
    if status_filter:
        query += f"&status={status_filter}"
    page = _client(ctx).request("GET", "/api/v1/jobs" + query)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for job in page["jobs"]:
        click.echo(_describe(job))
    shown = f"{offset + 1}-{offset + len(page['jobs'])}" if page["jobs"] else "none"
    click.echo(f"({shown} of {page['total']} jobs)", err=True)


@jobs.command()
@connection_options
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job record as JSON.")
@click.pass_context
def cancel(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Cancel a job; blocks it finished stay valid, so resubmitting resumes it."""
    job = _client(ctx).request("DELETE", f"/api/v1/jobs/{job_id}")
    if as_json:
        click.echo(json.dumps(job, indent=2))
    elif job["status"] == "cancelled":
        click.echo(f"job {job_id} cancelled")
    else:
        click.echo(f"job {job_id}: cancel requested; it stops after its current blocks")


def _describe(job: dict[str, Any]) -> str:
    progress = job["progress"]
    total = progress["blocks_total"]
    blocks = f"{progress['blocks_done']}/{total} blocks" if total else "no blocks yet"
    line = f"{job['id']}  {job['status']:<9}  {blocks:<16}  {job['input']} -> {job['output']}"
    line += f"  created {job['created_at']}"
    if job.get("error") and job["status"] != "cancelled":
        line += f"\n    error: {job['error']}"
    return line


def _wait_and_report(client: ServiceClient, job_id: str, as_json: bool,
                     interval: float = 0.5) -> None:
    job = _follow(client, job_id, interval)
    click.echo(json.dumps(job, indent=2) if as_json else _describe(job))
    if job["status"] != "succeeded":
        raise SystemExit(1)


def _follow(client: ServiceClient, job_id: str, interval: float) -> dict[str, Any]:
    """Poll a job until it ends, with a progress bar on stderr (plain lines when not a tty)."""
    from calab.cli.progress import ProgressBar

    with ProgressBar(label=f"job {job_id}") as bar:
        while True:
            job = client.request("GET", f"/api/v1/jobs/{job_id}")
            done, total = job["progress"]["blocks_done"], job["progress"]["blocks_total"]
            if total:
                bar.update(done, total)
            if job["status"] in TERMINAL:
                return job
            time.sleep(interval)
