"""``python -m airflow_provider_cfw.testing --port N [--config FILE]``: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from airflow_provider_cfw.testing.config import apply_config, emulator_settings, load_config
from airflow_provider_cfw.testing.emulator import CfwEmulator

READY_LINE = "CFW emulator listening on {url}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_cfw.testing",
        description="Local Huawei Cloud CFW + IAM emulator (for tests; never expose it to a network).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free port)")
    parser.add_argument(
        "--config",
        help="JSON file declaring credentials, users, projects, jobs, faults and how firewall jobs go",
    )
    parser.add_argument(
        "--firewall-job-seconds",
        type=float,
        help="how long firewall create/delete jobs run before they succeed (default 180, or the config's)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python logging level (default WARNING)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else {}
    settings = emulator_settings(config)
    if args.firewall_job_seconds is not None:
        settings["firewall_job_seconds"] = args.firewall_job_seconds
    emulator = CfwEmulator(host=args.host, port=args.port, **settings)
    apply_config(emulator, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with emulator:
        # Scripts wait for this exact line: print it only once the port accepts connections.
        print(READY_LINE.format(url=emulator.url), flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(serve(args))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
