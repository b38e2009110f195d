"""Type stubs of the compiled solver core (src/solver/module.cpp)."""

import numpy as np

T_MOMENTUM: int
OBJECTIVE: int
BETA: int
SUM_S: int
COUNTDOWN: int
CONVERGED: int
SETTLED: int
N_FLOATS: int
STEP: int
THRESHOLD: int
LAM_GAIN: int
UPPER: int
TOL: int
CONFIRM: int
MAX_ITERS: int
HANDOVER: int
N_SETTINGS: int
G1: int
G2: int
W: int
ALPHA: int
BETA_TAIL: int
TAPS: int
N_TABLES: int
SINGLE: int
DOUBLE: int
GUARD: int
ALIGNMENT: int
MIN_ITERATIONS: int
CONFIRM_ITERATIONS: int
RESTART_MARGIN: float

def iterate(
    y: np.ndarray, s: np.ndarray, z: np.ndarray, ks: np.ndarray,
    y32: np.ndarray, s32: np.ndarray, z32: np.ndarray, ks32: np.ndarray,
    iters: np.ndarray, done: np.ndarray, floats: np.ndarray, phases: np.ndarray,
    padding: np.ndarray, groups: np.ndarray,
    coef32: np.ndarray, settings32: np.ndarray, tables32: np.ndarray,
    coef: np.ndarray, settings: np.ndarray, tables: np.ndarray,
    n_steps: int, valid_rows: np.ndarray, n_threads: int,
) -> None: ...
def forward(
    x: np.ndarray, coef: np.ndarray, tables: np.ndarray, n_chunks: int, adjoint: bool = False
) -> np.ndarray: ...
def fit_gradient(
    z: np.ndarray, y: np.ndarray, valid_rows: np.ndarray, coef: np.ndarray,
    tables: np.ndarray, width: int,
) -> tuple[np.ndarray, np.ndarray]: ...
def rolling_order_statistic(
    matrix: np.ndarray, orders: np.ndarray, window: int, ranks: np.ndarray, out: np.ndarray,
    n_threads: int,
) -> None: ...
def ar2_recursion(
    x: np.ndarray, g1: float, g2: float, w: float, out: np.ndarray, n_threads: int,
) -> None: ...
def isa() -> str: ...
def request_stop() -> None: ...
def available_isas() -> list[str]: ...
