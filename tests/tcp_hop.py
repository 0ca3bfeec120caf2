"""A TCP hop between a client under test and the server it talks to (the SMTP sink), for tests that need to see or
disturb the conversation: the mailer's round trips, a slow relay, a relay gone silent."""

import asyncio
import contextlib


class Hop:
    """Carries each connection made to `port` on to `upstream_port`. It counts the connections and the client's writes
    (each is one read of the client's socket: a client that waits for every reply writes once per command), holds each
    of the server's replies `delay` seconds, and can go silent."""

    def __init__(self, upstream_port: int, delay: float = 0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = 0
        self.connections = 0
        self.writes = 0
        self._server: asyncio.Server | None = None
        self._carried: list[tuple[asyncio.Task, asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._silenced: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> "Hop":
        self._server = await asyncio.start_server(self._carry, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for _, client, upstream in self._carried:
            client.close()
            upstream.close()
        await asyncio.gather(*(task for task, _, _ in self._carried), return_exceptions=True)

    def silence(self) -> None:
        """The connections carried so far stop reaching the server, the way a relay that restarted behind a firewall
        or NAT looks to a kept connection: the client's ends stay open, and nothing ever answers. New ones work."""
        for _, _, upstream in self._carried:
            self._silenced.add(upstream)
            upstream.close()

    async def _carry(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        task = asyncio.current_task()
        assert task is not None
        self._carried.append((task, client, upstream))

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, counted: bool) -> None:
            with contextlib.suppress(OSError):
                while (data := await reader.read(65536)) and upstream not in self._silenced:
                    self.writes += counted
                    await asyncio.sleep(delay)
                    writer.write(data)
                    await writer.drain()
            if upstream not in self._silenced:  # One side hung up: so does the hop.
                writer.close()

        await asyncio.gather(pump(client_reader, upstream, 0, True), pump(upstream_reader, client, self.delay, False))
