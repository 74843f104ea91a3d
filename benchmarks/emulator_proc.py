"""The emulator in its own process, driven by JSON lines on stdin (one answer line on stdout each).

``python -m benchmarks.emulator_proc [--cert C --key K]`` prints ``{"url": ...}`` once it listens, then
answers:

- ``{"op": "setup", "jobs": [[job_id, polls], ...]}``: a fresh account (AK/SK, IAM user, project), a
  ready IAM token for the clients that send no signature, and each job scripted to answer ``Running``
  ``polls - 1`` times, then ``Success``; counters zeroed. Answers ``{"token": ...}``.
- ``{"op": "timed", "jobs": [[job_id, seconds], ...], "rate_limit": calls}``: each job scripted to
  answer ``Running`` until ``seconds`` from now, then ``Success``; the account limited to ``calls`` a
  second (``null``: no limit); counters zeroed. Answers ``{"t0": now}`` (epoch seconds).
- ``{"op": "zero"}``: the counters zeroed (a client has warmed up); answers this process's CPU seconds.
- ``{"op": "collect"}``: the counters since the last setup or zero, and this process's CPU seconds.
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from airflow_provider_cfw.testing import CfwEmulator
from benchmarks.account import AK, DOMAIN, PASSWORD, PROJECT, REGION, SK, USER
from benchmarks.tls import TlsFiles


def _setup(emu: CfwEmulator, jobs: list[list[Any]]) -> dict[str, Any]:
    emu.reset()
    emu.add_aksk(AK, SK)
    emu.add_project(PROJECT, REGION)
    emu.add_iam_user(DOMAIN, USER, PASSWORD, project_name=REGION)
    token = emu.issue_token(DOMAIN, USER, PROJECT)
    for job_id, polls in jobs:
        emu.add_job(PROJECT, job_id, statuses=["Running"] * (int(polls) - 1) + ["Success"])
    emu.reset_stats()
    return {"token": token}


def _timed(emu: CfwEmulator, jobs: list[list[Any]], rate_limit: float | None) -> dict[str, Any]:
    t0 = time.time()
    for job_id, seconds in jobs:
        emu.add_job(PROJECT, job_id, statuses=[("Running", float(seconds)), ("Success", None)], begin_time=t0)
    emu.set_rate_limit(rate_limit)
    emu.reset_stats()
    return {"t0": t0}


def _collect(emu: CfwEmulator) -> dict[str, Any]:
    stats = emu.stats
    return {
        "requests": {route: {str(k): v for k, v in by.items()} for route, by in stats.requests.items()},
        "job_polls": stats.count("cfw.job"),
        "job_polls_ok": stats.count("cfw.job", 200),
        "connections_accepted": stats.connections_accepted,
        "tokens_issued": stats.tokens_issued,
        "auth_failures": dict(stats.auth_failures),
        "cpu_s": time.process_time(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_proc")
    parser.add_argument("--cert", help="server certificate (PEM): serve HTTPS")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    context = None
    if args.cert:
        context = TlsFiles(ca=Path(args.cert), cert=Path(args.cert), key=Path(args.key)).server_context()
    # No lockout: a benchmark run must never be refused for an earlier client's mistake.
    with CfwEmulator(ssl_context=context, lockout_threshold=None, log_limit=1) as emu:
        print(json.dumps({"url": emu.url}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "quit":
                break
            if command["op"] == "setup":
                answer = _setup(emu, command["jobs"])
            elif command["op"] == "timed":
                answer = _timed(emu, command["jobs"], command.get("rate_limit"))
            elif command["op"] == "zero":
                emu.reset_stats()
                answer = {"cpu_s": time.process_time()}
            else:
                answer = _collect(emu)
            print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
