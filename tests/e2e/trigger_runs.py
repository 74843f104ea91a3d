"""``python -m tests.e2e.trigger_runs '[[dag_id, run_id, conf], ...]'``: ``airflow dags trigger`` for
each run, in one process (each ``airflow`` command spends seconds importing Airflow before it starts)."""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    for dag_id, run_id, conf in json.loads(argv[0]):
        args = parser.parse_args(
            ["dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf), "--output", "plain"]
        )
        args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
