"""Servers the Hub is compared with in bench/request_path.py (started there as subprocesses)."""
