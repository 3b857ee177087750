#!/usr/bin/env python3
"""The reference a Python team would build for GET /v1/jobs/{token}: aiohttp, one process, the
same SQLite file sluice writes, the same answer (the job, and its set's progress: items ok and
failed by cause among the job's URLs). Used by bench/api_bench.sh.

    python3 bench/python_status_server.py DATABASE PORT
"""
import json
import sqlite3
import sys

from aiohttp import web

COLUMNS = ("id, token, set_name, state, priority, attempts, max_attempts, epoch, worker, "
           "created_at, started_at, finished_at, failure_cause, failure_details, urls")


def main():
    database, port = sys.argv[1], int(sys.argv[2])
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)

    async def job_status(request):
        token = request.match_info["token"]
        row = db.execute(f"SELECT {COLUMNS} FROM jobs WHERE token = ?", (token,)).fetchone()
        if row is None:
            return web.json_response({"title": "Not found", "status": 404,
                                      "detail": f"no job '{token}'"}, status=404,
                                     content_type="application/problem+json")
        (job_id, token, set_name, state, priority, attempts, max_attempts, epoch, worker,
         created, started, finished, cause, details, urls) = row
        wanted = set(urls.split("\n")) if urls else set()
        ok = failed = 0
        by_cause = {}
        for url, status, failure_cause in db.execute(
                "SELECT url, status, failure_cause FROM items WHERE set_name = ?", (set_name,)):
            if url not in wanted:
                continue
            if status == "ok":
                ok += 1
            else:
                failed += 1
                by_cause[failure_cause] = by_cause.get(failure_cause, 0) + 1
        body = {"id": job_id, "token": token, "set": set_name, "state": state,
                "priority": priority, "attempts": attempts, "max_attempts": max_attempts,
                "epoch": epoch, "worker": worker or "", "created_ms": created,
                "started_ms": started or 0, "finished_ms": finished or 0,
                "urls": len(wanted), "items_ok": ok, "items_failed": failed,
                "failures_by_cause": by_cause}
        if cause:
            body["failure"] = {"cause": cause, "details": details or ""}
        return web.Response(text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/jobs/{token}", job_status)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
