"""Fixtures of the end-to-end tests: headless Chromium and a real Dask cluster of processes.

``browser`` is a headless Chromium for the browser tests (one per module).

``dask_cluster`` starts ``dask scheduler`` and two ``dask worker`` processes
(one thread each, the solver and BLAS pinned to one thread) on 127.0.0.1 with free
ports, waits for them, warms the solver in every worker, and tears them all
down at the end of the module. ``start_dask_cluster`` builds custom ones
(other worker counts, a resource limit on the workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

WORKER_ENV = {"CALAB_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaskProcessCluster:
    """``dask scheduler`` + ``dask worker`` processes, each in its own session.

    Attributes
    ----------
    address : str
        ``tcp://127.0.0.1:PORT`` of the scheduler.
    workers : list of subprocess.Popen
        The ``dask worker`` commands (each a nanny with its worker child).
    """

    def __init__(self, log_dir: Path, *, worker_preexec: Callable[[], None] | None = None,
                 memory_limit: str = "1GiB") -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log_dir = Path(log_dir)
        self.worker_preexec = worker_preexec
        self.memory_limit = memory_limit
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []

    def start(self, n_workers: int = 2, timeout: float = 90.0) -> None:
        """Start the scheduler and ``n_workers`` workers and wait until all are up."""
        self._spawn(["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                     "--dashboard-address", ":0"], "scheduler")
        for _ in range(n_workers):
            self.add_worker()
        self.wait_for_workers(n_workers, timeout)

    def add_worker(self) -> subprocess.Popen:
        """Start one more single-threaded worker."""
        worker = self._spawn(
            ["worker", self.address, "--nthreads", "1", "--memory-limit", self.memory_limit,
             "--host", "127.0.0.1", "--dashboard-address", ":0",
             "--local-directory", str(self.log_dir / "worker-space")],
            f"worker-{len(self.workers)}", preexec=self.worker_preexec)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout: float = 90.0) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def client(self):
        """A new ``distributed.Client`` on this cluster (close it after use)."""
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process itself (the nanny's child)."""
        with self.client() as client:
            return client.run(os.getpid)

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL a worker's whole process group (nanny and worker): a machine lost."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def worker_killer(self, after_blocks: int = 2
                      ) -> tuple[Callable[[int, int], None], list[int]]:
        """A ``progress`` callback that SIGKILLs one worker process (the first one's pid
        now) once ``after_blocks`` blocks are done, and the list it records that pid in."""
        pids = list(self.worker_pids().values())
        killed: list[int] = []

        def kill_one_worker(done: int, total: int) -> None:
            if done >= after_blocks and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        return kill_one_worker, killed

    @staticmethod
    def wait_for_done_blocks(output, at_least: int, timeout: float, *, interval: float = 0.02,
                             storage_options: dict | None = None) -> int:
        """Poll a run's output until ``at_least`` blocks are marked done; how many are."""
        import zarr

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done = int((zarr.open_array(str(output), path="done", mode="r",
                                            storage_options=storage_options)[:] == 1).sum())
            except Exception:  # output not created yet
                done = 0
            if done >= at_least:
                return done
            time.sleep(interval)
        raise AssertionError(f"fewer than {at_least} blocks done after {timeout} s")

    def warm(self) -> None:
        """Load the compiled solver in every worker so tests do not pay for its import."""
        from calab.engine.block import warm_up

        with self.client() as client:
            client.run(warm_up)

    def logs(self) -> str:
        """All process logs, for failure messages."""
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        """Terminate every process this object started (SIGKILL after 15 s)."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)

    def _spawn(self, args: list[str], name: str,
               preexec: Callable[[], None] | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **WORKER_ENV}
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        # Log to a file unless the process runs under a file-size limit.
        log = open(os.devnull if preexec else self.log_dir / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=preexec)
        log.close()
        self.procs.append(proc)
        return proc


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@contextmanager
def start_dask_cluster(log_dir: Path, n_workers: int = 2, *, warm: bool = True,
                       worker_preexec: Callable[[], None] | None = None
                       ) -> Iterator[DaskProcessCluster]:
    """Start a process cluster, yield it, and always stop it."""
    cluster = DaskProcessCluster(log_dir, worker_preexec=worker_preexec)
    try:
        cluster.start(n_workers)
        if warm:
            cluster.warm()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcessCluster]:
    """A real scheduler + 2 single-threaded workers on loopback, torn down after the module."""
    with start_dask_cluster(tmp_path_factory.mktemp("dask-cluster")) as cluster:
        yield cluster


@pytest.fixture
def process_cluster_factory():
    """``start_dask_cluster`` itself, for tests that need a custom cluster."""
    return start_dask_cluster


@pytest.fixture
def unused_address() -> str:
    """A scheduler address nobody listens on."""
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (``browser_support.headless_browser``), one per test module."""
    from browser_support import headless_browser

    with headless_browser() as chromium:
        yield chromium
