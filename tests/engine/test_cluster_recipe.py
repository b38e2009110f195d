"""One LocalCluster recipe: the engine's embedded cluster and the job service's are the same."""

from __future__ import annotations

import pytest

from calab.engine.cluster import dask_client, local_cluster
from calab.engine.service_client import ServiceCluster

MIB = 2**20


def settings_of(client) -> dict:
    info = client.scheduler_info()
    workers = list(info["workers"].values())
    return {"workers": len(workers), "threads": sorted({w["nthreads"] for w in workers}),
            "memory": sorted({w["memory_limit"] for w in workers}),
            "http_port_is_free_choice": info.get("services", {}).get("dashboard") != 8787}


def test_the_engine_and_the_service_start_the_same_cluster(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with dask_client(n_workers=1, memory_limit="512MiB") as client:
        engine = settings_of(client)
    service = ServiceCluster(n_workers=1, memory_limit="512MiB")
    try:
        served = settings_of(service.client(timeout=60))
    finally:
        service.close()
    assert engine == served == {"workers": 1, "threads": [1], "memory": [512 * MIB],
                                "http_port_is_free_choice": True}


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"n_workers": 0}, "n_workers"), ({"memory_limit": "lots"}, "memory_limit"),
])
def test_bad_settings_are_refused_before_any_process_starts(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ServiceCluster(**kwargs)
    with pytest.raises(ValueError, match=fragment):
        local_cluster(**kwargs)
