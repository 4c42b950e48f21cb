"""Background jobs: the API plugins use (api.py), the dramatiq runtime that runs them
(runtime.py), and the `hub worker` processes (worker.py)."""
