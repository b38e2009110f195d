"""The math of calab, on in-memory NumPy arrays only (NumPy, SciPy, numba)."""
