"""A small TCP forwarder of a test's own: listens on one address (a veth address of the host, say) and forwards
every connection to a target (PostgreSQL or Redis on 127.0.0.1, which listen on loopback only). It runs in a
thread with its own event loop, so a test that blocks its own loop never stalls the traffic."""

import asyncio
import contextlib
import socket
import threading


class Forwarder:
    """`Forwarder(("10.0.0.1", 0), ("127.0.0.1", 5432)).start()`: `port` is where it listens. `stop()` closes the
    listener and every forwarded connection. `latency` (seconds) delays what it forwards each way, a distant
    host's link; `upstream_ports` are the local ports of its connections to the target (which the target sees as
    its clients' ports: PostgreSQL's `pg_stat_activity.client_port`)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], latency: float = 0.0) -> None:
        self.listen, self.target, self.latency = listen, target, latency
        self.port = 0
        self.connections = 0  # accepted so far
        self.upstream_ports: set[int] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"forwarder-{target[1]}", daemon=True)
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()

    def start(self) -> "Forwarder":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, self.listen[0], self.listen[1], family=socket.AF_INET)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        except asyncio.CancelledError:  # stopped meanwhile
            return
        self.upstream_ports.add(up_writer.get_extra_info("sockname")[1])
        self._streams |= {writer, up_writer}
        with contextlib.suppress(asyncio.CancelledError):  # stopped: nothing to report
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._streams -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._streams):
                writer.transport.abort()
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
