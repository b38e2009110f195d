"""Local HTTP services: the tuning bridge behind :func:`calab.tune` and the job service.

This is the only package of calab that imports starlette or uvicorn. Nothing
is imported here, so ``import calab.server`` stays light; use the modules:

- :mod:`calab.server.errors`: the one JSON error body of both apps.
- :mod:`calab.server.bodies`: the safe JSON request-body reader of both apps.
- :mod:`calab.server.middleware`, :mod:`calab.server.frames`,
  :mod:`calab.server.tokens`: Host check/CORS/secret header, binary payloads,
  constant-time secret comparison.
- :mod:`calab.server.bridge`: ``bridge_app(...)``, CaTune bridge protocol v1.
- :mod:`calab.server.tune`: ``tune(...)``, the bridge on a background thread.
"""
