"""``python -m tests.e2e.trigger_runs '[[dag_id, run_id, conf], ...]'``: ``airflow dags trigger`` for
each run, in one process (each ``airflow`` command spends seconds importing Airflow before it starts)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta


def main(argv: list[str]) -> int:
    from airflow import __version__
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    # Airflow 2 gives a manual run the current second as its logical date, which must be unique per
    # DAG: runs of one DAG created here get a second each, counting back from now.
    now = datetime.now(UTC).replace(microsecond=0)
    for n, (dag_id, run_id, conf) in enumerate(json.loads(argv[0])):
        cli = ["dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf), "--output", "plain"]
        if __version__.startswith("2."):
            cli += ["--exec-date", (now - timedelta(seconds=n)).isoformat()]
        args = parser.parse_args(cli)
        args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
