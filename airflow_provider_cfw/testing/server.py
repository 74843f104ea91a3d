"""The plumbing under ``CfwEmulator``: the aiohttp site, connection counting, and the loop thread."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from airflow_provider_cfw.testing.stats import StatsRecorder

logger = logging.getLogger(__name__)


async def start_site(
    app: web.Application,
    host: str,
    port: int,
    *,
    stats: StatsRecorder,
    backlog: int,
    keepalive_timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0: a free port); returns the runner and the bound port."""
    # A short shutdown grace: a test that stops the emulator must not wait on an injected delay.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive_timeout, shutdown_timeout=0.25)
    await runner.setup()
    _count_connections(runner, stats)
    site = web.TCPSite(runner, host, port, backlog=backlog, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site.port


def _count_connections(runner: web.AppRunner, stats: StatsRecorder) -> None:
    # Every accepted TCP connection gets one RequestHandler, which reports to the server's
    # connection_made/connection_lost: counting there is exact under keep-alive.
    server = runner.server
    assert server is not None
    made, lost = server.connection_made, server.connection_lost

    def connection_made(handler: Any, transport: Any) -> None:
        stats.connection_accepted()
        made(handler, transport)

    def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
        stats.connection_closed()
        lost(handler, exc)

    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign]


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    # Handlers still sleeping on an injected delay outlive the shutdown grace: end them quietly.
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


class LoopThread:
    """An event loop of its own in a daemon thread, for the synchronous ``with CfwEmulator()`` form.

    :param name: the thread's name.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None

    def start(
        self,
        setup: Callable[[], Awaitable[object]],
        teardown: Callable[[], Awaitable[None]],
        timeout: float,
    ) -> None:
        """Run ``setup`` on the new loop and return once it finished (re-raising its error), then
        keep the loop running until :meth:`stop`, which runs ``teardown`` on it."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as err:
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(teardown())
                _cancel_leftovers(loop)
                loop.close()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the CFW emulator did not start in time")
        if failure:
            thread.join()
            raise failure[0]
        self._thread, self._loop = thread, loop

    def stop(self, timeout: float) -> None:
        """Stop the loop (running the teardown) and join the thread; idempotent."""
        thread, loop = self._thread, self._loop
        self._thread = self._loop = None
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("the CFW emulator thread did not stop within %s s", timeout)
