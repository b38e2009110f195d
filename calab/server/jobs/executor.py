"""The job service's default executor: one job as one :func:`calab.engine.deconvolve_zarr` run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from calab.server.errors import ApiError
from calab.server.jobs.locations import resolve_location
from calab.server.jobs.paths import relative_text
from calab.server.jobs.runner import Executor, JobFailedError


def engine_executor(cluster: Any, data_root: Path, url_prefixes: tuple[str, ...] = (),
                    url_storage_options: dict[str, Any] | None = None) -> Executor:
    """The default job executor: :func:`calab.engine.deconvolve_zarr` on the shared client.

    Paths and URLs are re-checked at the start (a symlink may have changed, a
    prefix may no longer be shared), every chunk access on the workers
    re-checks confinement of local paths to ``data_root`` (``confine_to``), URL
    jobs use the service's ``url_storage_options``, and errors and results name
    paths relative to the data root, never the server's.
    """
    from calab.engine import Cancelled

    def execute(
        job: dict[str, Any], progress: Callable[[int, int], None], should_stop: Callable[[], bool]
    ) -> dict[str, Any]:
        from calab.engine import deconvolve_zarr

        try:
            _, source = resolve_location("input", job["input"], data_root, url_prefixes)
            _, target = resolve_location("output", job["output"], data_root, url_prefixes)
            urls = isinstance(source, str) or isinstance(target, str)
            summary = deconvolve_zarr(
                str(source), str(target), job["params"],
                dataset=job["dataset"], client=cluster.client(), resume=True,
                progress=progress, should_stop=should_stop, confine_to=data_root,
                storage_options=dict(url_storage_options or {}) if urls else None,
                **dict(job["options"]),
            )
        except Cancelled:
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, ApiError) else (
                f"{type(exc).__name__}: {exc}")
            raise JobFailedError(relative_text(message, data_root)) from exc
        return {key: relative_text(value, data_root) if isinstance(value, str) else value
                for key, value in summary.items()}

    return execute
