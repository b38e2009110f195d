"""Local HTTP services: the tuning bridge behind :func:`calab.tune` and the job service.

This is the only package of calab that imports starlette or uvicorn. Nothing
is imported here, so ``import calab.server`` stays light; use the modules:

- :mod:`calab.server.common`: shared HTTP helpers (secrets, body limits, Host
  check, CORS/Private-Network-Access, JSON and binary payloads).
- :mod:`calab.server.bridge`: ``bridge_app(...)``, CaTune bridge protocol v1.
- :mod:`calab.server.tune`: ``tune(...)``, the bridge on a background thread.
"""
