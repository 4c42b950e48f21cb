"""The reference of bench/request_path.py: a bare Quart route returning 50 static rows, in the
same envelope as the Hub's GET /api/leads, served by hypercorn as `hub serve` serves the Hub
(1 worker: hypercorn in this process; N > 1: N worker processes; no access log).

    .venv/bin/python bench/peers/quart_bare.py --port 8001 [--workers 2]
"""

from __future__ import annotations

import argparse
import sys

from quart import Quart

app = Quart("bare")

LEADS = [
    {
        "id": f"00000000-0000-4000-8000-{i:012d}", "name": f"Lead {i}", "email": f"lead{i}@example.com",
        "phone": f"+1555{i:07d}", "company": "Acme Corp", "companyId": None, "status": "new",
        "source": "website", "value": 1000.0 + i, "notes": None,
        "createdAt": "2026-01-01T00:00:00.000000Z", "updatedAt": "2026-01-01T00:00:00.000000Z",
    }
    for i in range(50)
]


@app.get("/api/leads")
async def leads():
    return {"leads": LEADS, "total": 60, "pagination": {"limit": 50, "offset": 0, "hasMore": True}}


def main() -> None:
    from hypercorn.config import Config
    from hypercorn.run import run

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    config = Config()
    config.application_path = "bench.peers.quart_bare:app"
    config.bind = [f"127.0.0.1:{args.port}"]
    config.workers = args.workers if args.workers > 1 else 0  # as `hub serve` does
    config.accesslog = None
    config.errorlog = "-"
    sys.exit(run(config))


if __name__ == "__main__":
    main()
