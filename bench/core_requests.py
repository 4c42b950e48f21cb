"""Replaced by bench/request_path.py (wrk as the client, bare Quart and FastAPI peers, SQLite and
PostgreSQL + Redis, 1 and 2 workers, a per-stage profile): its httpx client was the ceiling."""
import runpy
import sys
from pathlib import Path

sys.argv[0] = str(Path(__file__).with_name("request_path.py"))
runpy.run_path(sys.argv[0], run_name="__main__")
