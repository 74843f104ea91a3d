"""Small local servers the hook tests point a connection at: a counting HTTP proxy and a silent server.

Both run on 127.0.0.1 in a thread of their own, with bounded waits, and stop when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

#: Longest a test server waits on one read; a test's own timeouts are far shorter.
_IO_TIMEOUT = 10.0


class CountingProxy:
    """A forward proxy (absolute-form requests and ``CONNECT``) that counts what passes through it.

    :ivar requests: the request lines it received, in order.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="counting-proxy", daemon=True)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(_IO_TIMEOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            # Open client connections are left to the clients: wait_closed() would wait on them.

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(_IO_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_IO_TIMEOUT)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IO_TIMEOUT)
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                self.requests.append(request_line)
                method, target, version = request_line.split(" ", 2)
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                await self._forward(method, target, version, header_lines, reader, writer)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(
        self,
        method: str,
        target: str,
        version: str,
        header_lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        # "GET http://host:port/path HTTP/1.1" -> "GET /path HTTP/1.1" to host:port, one request per
        # upstream connection (Connection: close), the answer relayed as read.
        rest = target.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        headers = [h for h in header_lines if h and not h.lower().startswith(("proxy-", "connection:"))]
        length = next(
            (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0
        )
        body = await reader.readexactly(length) if length else b""
        up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
        request = f"{method} /{path} {version}\r\n" + "".join(f"{h}\r\n" for h in headers)
        up_writer.write(request.encode("latin-1") + b"Connection: close\r\n\r\n" + body)
        await up_writer.drain()
        answer = await asyncio.wait_for(up_reader.read(), _IO_TIMEOUT)
        up_writer.close()
        writer.write(answer)
        await writer.drain()

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = target.partition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, TimeoutError):
                while data := await asyncio.wait_for(src.read(65536), _IO_TIMEOUT):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class SilentServer:
    """Accepts connections and reads requests, but never answers: a hung backend.

    :ivar requests: how many request heads it read.
    """

    def __init__(self) -> None:
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SilentServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(_IO_TIMEOUT)
        for conn in self._held:
            conn.close()
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
            self._spawn(self._read, conn)

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buffer = b""
        # Hang up in the end, so a client without a timeout fails the test instead of hanging it.
        deadline = time.monotonic() + _IO_TIMEOUT
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b"\r\n\r\n" in buffer:
                _, buffer = buffer.split(b"\r\n\r\n", 1)
                self.requests += 1
        conn.close()
