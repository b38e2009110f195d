"""The math of calab, on in-memory NumPy arrays only (NumPy, SciPy, and its own compiled core)."""
