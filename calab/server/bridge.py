"""The tuning bridge: CaTune bridge protocol v1 plus calab's real-time solve routes.

Protocol v1 (every ``/api/v1/*`` route needs the ``X-Bridge-Secret`` header):

==========================  =====================================================
``GET  /api/v1/health``     ``{"status": "ok", "protocol_version": 1, ...}``
``GET  /api/v1/status``     ``{"state": "no-data"|"waiting"|"exported", ...}``
``GET  /api/v1/metadata``   ``sampling_rate_hz``, ``num_cells``, ``num_timepoints``
                            (+ ``cell_indices``, ``snr``, ``start_sample``, ...)
``GET  /api/v1/traces``     the traces as ``.npy`` bytes (float64, cells x time;
                            ``?dtype=float32`` halves the transfer)
``POST /api/v1/params``     a CaTune export JSON (schema 1.x) or a flat dict
``POST /api/v1/heartbeat``  the page is alive (every 3 s)
==========================  =====================================================

calab's own routes: ``POST /api/v1/solve`` (see :mod:`calab.server.bridge_solve`),
``GET /api/v1/overview?cell=N&points=P`` (a min/max envelope of one whole cell),
``POST /api/v1/upload`` and ``POST /api/v1/dataset`` (see
:mod:`calab.server.bridge_upload`). The web app itself is served at ``/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from calab._version import __version__
from calab.errors import CalabError
from calab.server.bodies import read_body, read_json_object
from calab.server.bridge_features import feature_routes
from calab.server.bridge_requests import parse_overview_query, parse_solve_request
from calab.server.bridge_session import TuningSession
from calab.server.bridge_solve import WindowSolver
from calab.server.bridge_upload import (
    MAX_UPLOAD_BYTES,
    activate_upload,
    describe_upload,
    parse_upload,
    too_large_message,
)
from calab.server.errors import ApiError, exception_handlers, json_error
from calab.server.frames import encode_frame, npy_bytes
from calab.server.middleware import (
    LOOPBACK_HOSTS,
    CorsMiddleware,
    HostCheckMiddleware,
    SecretHeaderMiddleware,
)
from calab.server.params import field_error, flat_params, options_from_params

PROTOCOL_VERSION = 1
SECRET_HEADER = "X-Bridge-Secret"
WEB_ROOT = Path(__file__).resolve().parents[1] / "web"


def bridge_app(
    session: TuningSession,
    *,
    secret: str,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    web_root: str | Path | None = WEB_ROOT,
    upload_limit: int = MAX_UPLOAD_BYTES,
    solver: WindowSolver | None = None,
) -> Starlette:
    """Build the bridge application for one tuning session.

    Parameters
    ----------
    session : TuningSession
        Shared state: the data shown, the heartbeat, the exported parameters.
    secret : str
        Value the ``X-Bridge-Secret`` header must carry on ``/api/v1/*``.
    allowed_hosts : iterable of str, optional
        Host names (without port) accepted in the ``Host`` header.
    web_root : str or Path or None, optional
        Directory of the web app served at ``/``; None serves no page.
    upload_limit : int, optional
        Largest dropped file accepted, in bytes.
    solver : WindowSolver, optional
        The real-time solver; a new one by default. Close it with
        ``app.state.solver.close()`` when the app is done.

    Returns
    -------
    starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> app = bridge_app(TuningSession(), secret="s3cret", web_root=None)
    >>> client = TestClient(app, base_url="http://127.0.0.1")
    >>> client.get("/api/v1/health").status_code
    401
    >>> client.get("/api/v1/health", headers={"X-Bridge-Secret": "s3cret"}).json()["status"]
    'ok'
    """
    solver = solver or WindowSolver()
    routes = _api_routes(session, solver, upload_limit)
    routes += feature_routes(session)  # metrics, spectrum, demo, drop summary
    if web_root is not None:
        routes.append(Mount("/", app=StaticFiles(directory=str(web_root), html=True)))
    middleware = [
        Middleware(HostCheckMiddleware, allowed_hosts=allowed_hosts),
        Middleware(CorsMiddleware, allow_headers=("content-type", SECRET_HEADER.lower())),
        Middleware(SecretHeaderMiddleware, secret=secret, prefix="/api/", header=SECRET_HEADER),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=exception_handlers())
    app.state.session = session
    app.state.solver = solver
    return app


def _api_routes(session: TuningSession, solver: WindowSolver, upload_limit: int) -> list:
    def dataset_or_404():
        if session.dataset is None:
            raise ApiError(404, "no traces loaded yet; drop a .npy/.npz file onto the app")
        return session.dataset

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "protocol_version": PROTOCOL_VERSION, "server": f"calab {__version__}"}
        )

    async def status(request: Request) -> Response:
        return JSONResponse({**session.status(), "upload_limit_bytes": upload_limit})

    async def metadata(request: Request) -> Response:
        return JSONResponse(dataset_or_404().metadata())

    async def traces(request: Request) -> Response:
        # float64 per the protocol; calab's own app asks for float32 (half the bytes)
        dtype = request.query_params.get("dtype", "float64")
        if dtype not in ("float64", "float32"):
            raise ApiError(400, f"dtype={dtype!r} is not supported; use float64 or float32")
        data = dataset_or_404().traces.astype(dtype, copy=False)
        return Response(npy_bytes(data), media_type="application/octet-stream")

    async def params(request: Request) -> Response:
        flat, names = flat_params(await read_json_object(request), prefix="")
        options = options_from_params(flat, names)
        if session.dataset is not None:  # what tune() returns must fit the data it tuned
            traces = session.dataset.traces
            try:
                options.check_recording(traces.shape[0], traces.shape[1], fs=session.dataset.fs)
            except CalabError as exc:
                raise field_error(exc, names) from None
        validated = options.to_params()
        session.export(validated)
        return JSONResponse({"status": "received", "params": validated})

    async def heartbeat(request: Request) -> Response:
        session.record_heartbeat()
        return JSONResponse({"status": "ok"})

    async def solve(request: Request) -> Response:
        dataset = dataset_or_404()
        parsed = parse_solve_request(await read_json_object(request), dataset)
        try:
            frame = await solver.submit(parsed, dataset)
        except asyncio.CancelledError:  # the server is shutting down (Ctrl-C in tune())
            return json_error(503, "the tuning session is closing")
        if frame is None:
            return json_error(409, "superseded by a newer request of the same session",
                              request_id=parsed.request_id, session=parsed.session)
        return Response(frame, media_type="application/octet-stream")

    async def overview(request: Request) -> Response:
        dataset = dataset_or_404()
        cell, points = parse_overview_query(request.query_params, dataset)
        loop = asyncio.get_running_loop()
        size, low, high = await loop.run_in_executor(None, dataset.overview, cell, points)
        header = {"cell": cell, "bin_samples": size, "fs": dataset.fs,
                  "total_timepoints": dataset.total_timepoints}
        return Response(encode_frame(header, [low[None], high[None]]),
                        media_type="application/octet-stream")

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name", "dropped file")[:200]
        try:
            body = await read_body(request, upload_limit)
        except ApiError as error:
            if error.status != 413:
                raise
            declared = request.headers.get("content-length", "")
            size = int(declared) if declared.isdigit() else None
            raise ApiError(413, too_large_message(name, size, upload_limit)) from None
        arrays = parse_upload(body, name)
        session.pending_upload, session.pending_name = arrays, name
        return JSONResponse(describe_upload(arrays, name))

    async def dataset(request: Request) -> Response:
        loaded = activate_upload(session, await read_json_object(request))
        return JSONResponse(loaded.metadata())

    return [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/status", status, methods=["GET"]),
        Route("/api/v1/metadata", metadata, methods=["GET"]),
        Route("/api/v1/traces", traces, methods=["GET"]),
        Route("/api/v1/params", params, methods=["POST"]),
        Route("/api/v1/heartbeat", heartbeat, methods=["POST"]),
        Route("/api/v1/solve", solve, methods=["POST"]),
        Route("/api/v1/overview", overview, methods=["GET"]),
        Route("/api/v1/upload", upload, methods=["POST"]),
        Route("/api/v1/dataset", dataset, methods=["POST"]),
    ]
