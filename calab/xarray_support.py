"""``xarray.DataArray`` in, DataArrays out: the xarray branch of the public API.

:func:`calab.run_deconvolution` and :func:`calab.run_deconvolution_full` hand
a DataArray here. Its cell and time dimensions come from ``dims=`` or are
detected (Minian's ``unit_id`` x ``frame``, or the only dimension of a single
trace); the solve runs on the underlying NumPy or dask array (lazy stays
lazy) and the results carry the input's dims and coordinates back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from calab.core.result import DeconvolutionResult

MINIAN_DIMS = ("unit_id", "frame")
EXTRA_HINT = "pip install 'calab[xarray]'"


def is_dataarray(value: Any) -> bool:
    """True for an ``xarray.DataArray`` (checked without importing xarray)."""
    return type(value).__name__ == "DataArray" and type(value).__module__.startswith("xarray")


def check_dims_use(traces: Any, dims: Sequence[str] | None) -> None:
    """``dims=`` applies to DataArray input only; say so (and name the extra) otherwise."""
    if dims is not None and not is_dataarray(traces):
        raise TypeError(
            f"dims={tuple(dims)!r} applies to xarray.DataArray input ({EXTRA_HINT}); "
            f"traces is a {type(traces).__module__}.{type(traces).__name__}"
        )


def resolve_dims(array: Any, dims: Sequence[str] | None) -> tuple[str, ...]:
    """The ``(cell_dim, time_dim)`` (or ``(time_dim,)`` for one trace) of a DataArray.

    Raises ``ValueError`` naming ``dims`` and the DataArray's own dims when
    they cannot be matched.
    """
    have = tuple(str(d) for d in array.dims)
    if array.ndim not in (1, 2):
        raise ValueError(f"traces must be a 1-D or 2-D DataArray; got dims {have}")
    if dims is None:
        if array.ndim == 1:
            return have
        if set(MINIAN_DIMS) <= set(have):
            return MINIAN_DIMS
        raise ValueError(
            f"cannot tell the cell and time dimensions of a DataArray with dims {have}; pass "
            f"dims=(cell_dim, time_dim), e.g. dims={have!r} (Minian's {MINIAN_DIMS} are "
            "detected)"
        )
    wanted = tuple(dims) if not isinstance(dims, str) else (dims,)
    if len(wanted) != array.ndim or set(wanted) != set(have):
        raise ValueError(
            f"dims={wanted!r} must name the DataArray's {array.ndim} dimensions {have} "
            "as (cell_dim, time_dim) (or (time_dim,) for one trace)"
        )
    return wanted


def solve_dataarray(
    solve: Callable[[Any], DeconvolutionResult], traces: Any, dims: Sequence[str] | None,
) -> DeconvolutionResult:
    """Run ``solve`` (NumPy or dask values -> result) on a DataArray; DataArray fields out.

    ``activity`` and ``reconvolution`` keep the input's dims (in its order),
    coordinates and name suffixes; ``baseline``, ``iterations`` and
    ``converged`` are over the cell dimension with its coordinates (0-d for
    one trace). Dask-backed input gives dask-backed (lazy) output.
    """
    import xarray as xr

    order = resolve_dims(traces, dims)
    arranged = traces.transpose(*order)
    result = solve(arranged.data)
    cell_dims = order[:-1]
    per_cell_coords = {name: coord for name, coord in arranged.coords.items()
                       if set(coord.dims) <= set(cell_dims)}
    name = traces.name

    def series(values: Any, what: str) -> Any:
        out = xr.DataArray(values, dims=order, coords=arranged.coords,
                           name=f"{name}_{what}" if name else what,
                           attrs={"calab_field": what})
        return out.transpose(*traces.dims)

    def per_cell(values: Any, what: str) -> Any:
        return xr.DataArray(values, dims=cell_dims, coords=per_cell_coords,
                            name=f"{name}_{what}" if name else what,
                            attrs={"calab_field": what})

    return DeconvolutionResult(
        activity=series(result.activity, "activity"),
        baseline=per_cell(result.baseline, "baseline"),
        reconvolution=series(result.reconvolution, "reconvolution"),
        iterations=per_cell(result.iterations, "iterations"),
        converged=per_cell(result.converged, "converged"),
    )
