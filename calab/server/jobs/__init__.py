"""The deconvolution job service behind ``calab serve``.

A small JSON API (Starlette) over a persistent job queue (SQLite) whose jobs
run :func:`calab.engine.deconvolve_zarr` on a shared Dask cluster:

- :mod:`~calab.server.jobs.app`: ``jobs_app(...)``, the routes;
- :mod:`~calab.server.jobs.store`: job records in SQLite;
- :mod:`~calab.server.jobs.runner`: worker threads running queued jobs;
- :mod:`~calab.server.jobs.submission` and :mod:`~calab.server.jobs.paths`:
  request validation and data-root confinement;
- :mod:`~calab.server.jobs.auth`: bearer tokens (constant-time compare and the
  size-limited JSON body come from :mod:`calab.server.bodies`);
- :mod:`~calab.server.jobs.service`: ``run_service(...)``, uvicorn in the foreground.
"""

from __future__ import annotations

from calab.server.jobs.app import jobs_app

__all__ = ["jobs_app"]
