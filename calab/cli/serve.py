"""``calab serve``: the deconvolution job service for a shared Dask cluster."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; anything but loopback requires a token.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port.")
@click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", default=None,
              help="Dask scheduler address (env DASK_SCHEDULER_ADDRESS); default: an embedded "
                   "LocalCluster for the service's lifetime.")
@click.option("--data-root", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory all job inputs and outputs must lie in (shared with the workers).")
@click.option("--state", "state_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the job database [default: DATA_ROOT/.calab-service].")
@click.option("--max-concurrent", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Jobs running at the same time.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the bearer token (else env CALAB_TOKEN; on loopback without "
                   "either, a random token is written to STATE/token).")
@click.option("--allow-url", "allow_urls", multiple=True, envvar="CALAB_ALLOW_URLS",
              metavar="PREFIX",
              help="Object-storage prefix jobs may read and write, e.g. s3://lab/recordings/ "
                   "(repeatable; env CALAB_ALLOW_URLS, space-separated). Default: none, paths "
                   "under --data-root only.")
@click.option("--url-storage-options", envvar="CALAB_URL_STORAGE_OPTIONS", default=None,
              metavar="JSON",
              help="fsspec options (endpoint, credentials) for every --allow-url job (env "
                   "CALAB_URL_STORAGE_OPTIONS); the AWS_* variables fill the rest. Clients "
                   "cannot give their own.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(
    host: str,
    port: int,
    scheduler: str | None,
    data_root: Path,
    state_dir: Path | None,
    max_concurrent: int,
    token_file: Path | None,
    allow_urls: tuple[str, ...],
    url_storage_options: str | None,
    log_level: str,
) -> None:
    """Run the job service: a JSON API that runs deconvolution jobs on a Dask cluster.

    Jobs read and write zarr stores under --data-root, which must be the same
    path on this machine and on every Dask worker, and, with --allow-url,
    object-storage URLs under the prefixes given. Every route but
    /api/v1/health needs "Authorization: Bearer <token>".

    \b
    Example:
      CALAB_TOKEN=$(cat token) calab serve --host 0.0.0.0 \\
          --scheduler tcp://scheduler:8786 --data-root /data
    """
    from calab.io.storage import parse_storage_options
    from calab.server.jobs.auth import resolve_token
    from calab.server.jobs.locations import check_url_prefixes
    from calab.server.jobs.service import default_state_dir, run_service

    data_root = data_root.resolve()
    state = (state_dir or default_state_dir(data_root)).resolve()
    try:
        state.mkdir(parents=True, exist_ok=True)
        token, source = resolve_token(host, token_file, state)
        prefixes = check_url_prefixes(allow_urls)
        storage = parse_storage_options(url_storage_options, "--url-storage-options")
    except (ValueError, TypeError, OSError) as exc:
        raise click.UsageError(str(exc).replace("url_prefixes", "--allow-url")) from exc
    click.echo(f"calab serve: data root {data_root}, state {state}, token: {source}", err=True)
    if prefixes:
        click.echo(f"calab serve: object storage under {', '.join(prefixes)}", err=True)
    click.echo(f"calab serve: scheduler {scheduler or 'embedded LocalCluster'}", err=True)
    try:
        run_service(
            host=host, port=port, data_root=data_root, state_dir=state, token=token,
            scheduler=scheduler, max_concurrent=max_concurrent, log_level=log_level,
            url_prefixes=prefixes, url_storage_options=storage,
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
