"""The job service's Starlette application: ``jobs_app(...)`` and its routes."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calab._version import __version__
from calab.server.bodies import read_json_object
from calab.server.errors import exception_handlers
from calab.server.jobs.auth import token_matches
from calab.server.jobs.errors import JobRequestError
from calab.server.jobs.executor import engine_executor
from calab.server.jobs.locations import Location, check_url_prefixes, is_url_value, overlap
from calab.server.jobs.openapi import openapi_document
from calab.server.jobs.paths import resolve_confined
from calab.server.jobs.runner import Executor, JobRunner
from calab.server.jobs.store import STATUSES, JobStore
from calab.server.jobs.submission import SUBMISSION_FIELDS, parse_submission

log = logging.getLogger("calab.server.jobs")

DEFAULT_MAX_BODY_BYTES = 1 << 20
MAX_PAGE = 200
#: Largest ``?offset=`` (SQLite integers are 64-bit).
MAX_OFFSET = 2**63 - 1
STATE_DB = "jobs.sqlite"


class JobService:
    """The state behind the routes: store, runner, cluster, data root, token."""

    def __init__(
        self,
        *,
        data_root: Path,
        state_dir: Path,
        token: str,
        cluster: Any,
        execute: Executor,
        cancelled_error: tuple[type[BaseException], ...],
        max_concurrent: int,
        max_body_bytes: int,
        inspect_input: Callable[..., Any] | None,
        url_prefixes: tuple[str, ...] = (),
        check_url_output: Callable[[str], None] | None = None,
    ) -> None:
        self.data_root = data_root
        self.url_prefixes = url_prefixes
        self.check_url_output = check_url_output
        self.state_dir = state_dir
        self.token = token
        self.cluster = cluster
        self.max_body_bytes = max_body_bytes
        self.inspect_input = inspect_input
        self.store = JobStore(state_dir / STATE_DB)
        self.runner = JobRunner(
            self.store, execute, max_concurrent=max_concurrent, cancelled_error=cancelled_error
        )
        self.submit_lock = threading.Lock()

    def check_auth(self, request: Request) -> None:
        if not token_matches(request.headers.get("authorization"), self.token):
            raise JobRequestError("Authorization", "missing or wrong bearer token", 401)


def _service(request: Request) -> JobService:
    return request.app.state.service


async def health(request: Request) -> Response:
    service = _service(request)
    cluster = await run_in_threadpool(service.cluster.status) if service.cluster else None
    counts = service.store.count_by_status()
    return JSONResponse({
        "status": "ok",
        "version": __version__,
        "cluster": cluster,
        "jobs": {"queued": counts["queued"], "running": counts["running"]},
        "max_concurrent": service.runner.max_concurrent,
    })


async def openapi(request: Request) -> Response:
    _service(request).check_auth(request)
    return JSONResponse(openapi_document())


async def submit_job(request: Request) -> Response:
    service = _service(request)
    service.check_auth(request)
    # storage_options passes here so that the submission check can say who sets them
    body = await read_json_object(request, service.max_body_bytes,
                                  allowed=(*SUBMISSION_FIELDS, "storage_options"))
    job_id = await run_in_threadpool(_create_job, service, body)
    service.runner.wake()
    return JSONResponse(
        {"id": job_id, "status": "queued", "url": f"/api/v1/jobs/{job_id}"},
        status_code=202,
        headers={"Location": f"/api/v1/jobs/{job_id}"},
    )


def _create_job(service: JobService, body: Any) -> str:
    submission = parse_submission(
        body,
        service.data_root,
        reserved=(service.state_dir,),
        inspect_input=service.inspect_input,
        url_prefixes=service.url_prefixes,
        check_url_output=service.check_url_output,
    )
    with service.submit_lock:
        _refuse_overlap(service, submission)
        return service.store.create(
            submission.input, submission.dataset, submission.output,
            submission.params, submission.options,
        )


def _refuse_overlap(service: JobService, submission: Any) -> None:
    """409 when the new job's output meets a queued or running job's input or output.

    Paths are compared resolved, so a symlinked alias of the same directory is
    the same output.
    """
    new_out, new_in = submission.output_path, submission.input_path
    for job_id, other_input, other_output in service.store.active_paths():
        try:
            other_out = _recorded_location(service, "output", other_output)
            other_in = _recorded_location(service, "input", other_input)
        except JobRequestError:  # that job's path changed under it; it fails on its own
            continue
        if overlap(new_out, other_out) or overlap(new_out, other_in):
            raise JobRequestError(
                "output", f"output={submission.output!r} is the same store as (or overlaps) a "
                f"path of active job {job_id}; wait for it or choose another output", 409,
            )
        if overlap(new_in, other_out):
            raise JobRequestError(
                "input", f"input={submission.input!r} is being written by active job {job_id}",
                409,
            )


def _recorded_location(service: JobService, field: str, value: str) -> Location:
    """A job record's input or output as a location (a recorded URL is already normalised)."""
    if is_url_value(value):
        return value
    return resolve_confined(field, value, service.data_root)


async def list_jobs(request: Request) -> Response:
    service = _service(request)
    service.check_auth(request)
    query = request.query_params
    limit = _int_query(query.get("limit"), "limit", default=20, low=1, high=MAX_PAGE)
    offset = _int_query(query.get("offset"), "offset", default=0, low=0, high=MAX_OFFSET)
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise JobRequestError("status", f"status={status!r}; use one of {', '.join(STATUSES)}")
    jobs, total = service.store.list(limit=limit, offset=offset, status=status)
    next_offset = offset + len(jobs) if offset + len(jobs) < total else None
    return JSONResponse(
        {"jobs": jobs, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}
    )


async def get_job(request: Request) -> Response:
    service = _service(request)
    service.check_auth(request)
    return JSONResponse(_job_or_404(service, request.path_params["job_id"]))


async def cancel_job(request: Request) -> Response:
    service = _service(request)
    service.check_auth(request)
    job_id = request.path_params["job_id"]
    if job_id in service.runner.running:  # stop it even if the state disk cannot record it
        service.runner.cancel(job_id)
    previous = await run_in_threadpool(service.store.request_cancel, job_id)
    if previous is None:
        raise JobRequestError("job_id", f"no job with id {job_id!r}", 404)
    if previous not in ("queued", "running"):
        raise JobRequestError("job_id", f"job {job_id} already {previous}; nothing to cancel", 409)
    if previous == "running":
        service.runner.cancel(job_id)
    status_code = 202 if previous == "running" else 200
    return JSONResponse(_job_or_404(service, job_id), status_code=status_code)


def _job_or_404(service: JobService, job_id: str) -> dict[str, Any]:
    job = service.store.get(job_id)
    if job is None:
        raise JobRequestError("job_id", f"no job with id {job_id!r}", 404)
    return job


def _int_query(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    number = None
    if len(value) <= 20 and value.strip().lstrip("+-").isdigit():
        number = int(value)
    if number is None or number < low or number > high:
        shown = value if len(value) <= 40 else f"{value[:37]}..."
        raise JobRequestError(name, f"{name}={shown!r} must be an integer between {low} and {high}")
    return number


def jobs_app(
    *,
    data_root: str | Path,
    state_dir: str | Path,
    token: str,
    scheduler: str | None = None,
    cluster: Any = None,
    execute: Executor | None = None,
    max_concurrent: int = 2,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    start_runner: bool = True,
    check_inputs: bool = True,
    url_prefixes: Sequence[str] = (),
    url_storage_options: dict[str, Any] | None = None,
) -> Starlette:
    """Build the job service application.

    Parameters
    ----------
    data_root : str or Path
        Directory every job's input and output must lie in (must exist).
    state_dir : str or Path
        Directory of the SQLite job database (created if missing).
    token : str
        The bearer token every route but ``/api/v1/health`` requires.
    scheduler : str, optional
        Dask scheduler address; None uses ``DASK_SCHEDULER_ADDRESS`` or an
        embedded LocalCluster (see :class:`calab.engine.service_client.ServiceCluster`).
    cluster : object, optional
        A ready ``ServiceCluster`` (overrides ``scheduler``).
    execute : callable, optional
        ``execute(job, progress, should_stop) -> summary``; default runs
        :func:`calab.engine.deconvolve_zarr` on the cluster.
    max_concurrent : int
        Jobs running at the same time.
    max_body_bytes : int
        Largest accepted request body (413 beyond).
    start_runner : bool
        Start the job threads with the application (False: jobs stay queued).
    check_inputs : bool
        Open each input's zarr metadata at submit time to refuse bad inputs early.
    url_prefixes : sequence of str
        Object-storage prefixes (``"s3://lab/recordings/"``) under which jobs
        may name URL inputs and outputs; empty (default) allows paths only.
    url_storage_options : dict, optional
        fsspec options (endpoint, credentials) for every URL job; the service's
        ``AWS_*`` variables fill what they leave out. Clients cannot give any.

    Returns
    -------
    starlette.applications.Starlette
        Run it with uvicorn, or call it with ``starlette.testclient.TestClient``.

    Example
    -------
    >>> app = jobs_app(data_root="/data", state_dir="/data/.calab", token=token)  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                             # doctest: +SKIP
    """
    from calab.engine import Cancelled
    from calab.engine.service_client import ServiceCluster, check_url_output, inspect_input
    from calab.io.storage import check_storage_options

    prefixes = check_url_prefixes(url_prefixes)
    storage = check_storage_options(url_storage_options, "url_storage_options")
    root = Path(data_root).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"data_root={str(data_root)!r} is not an existing directory")
    state = Path(state_dir).expanduser().resolve()
    state.mkdir(parents=True, exist_ok=True)
    if cluster is None:
        cluster = ServiceCluster(scheduler)
    service = JobService(
        data_root=root,
        state_dir=state,
        token=token,
        cluster=cluster,
        execute=execute or engine_executor(cluster, root, prefixes, storage),
        cancelled_error=(Cancelled,),
        max_concurrent=max_concurrent,
        max_body_bytes=max_body_bytes,
        inspect_input=functools.partial(inspect_input, storage_options=storage)
        if check_inputs else None,
        url_prefixes=prefixes,
        check_url_output=functools.partial(check_url_output, storage_options=storage)
        if check_inputs else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_runner:
            resumed = service.runner.start()
            if resumed:
                log.info("resuming %d interrupted job(s): %s", len(resumed), ", ".join(resumed))
        try:
            yield
        finally:
            await run_in_threadpool(service.runner.stop)
            service.store.close()
            await run_in_threadpool(cluster.close)

    routes = [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/jobs", submit_job, methods=["POST"]),
        Route("/api/v1/jobs", list_jobs, methods=["GET"]),
        Route("/api/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/v1/jobs/{job_id}", cancel_job, methods=["DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
    )
    app.state.service = service
    return app
