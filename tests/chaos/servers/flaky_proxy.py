"""A TCP proxy in front of an HTTP MCP server that can be told to misbehave.

Usage: ``python tests/chaos/servers/flaky_proxy.py LISTEN_PORT TARGET_PORT`` (both on
127.0.0.1). Prints ``READY <port>`` once listening. Standard library only.

Modes, switched with ``POST /__chaos/<mode>`` on the proxy's own port (answered ``200``):

* ``pass``: every connection is piped to the target untouched (keep-alive, SSE streams);
* ``drop``: new connections are closed at once without an answer (RST), as by a crashed
  server or a load balancer dropping connections;
* ``5xx``: every new request is answered ``503 Service Unavailable`` and closed.

Switching mode also cuts every piped connection, as when the upstream restarts. Only the
first request of a connection is inspected; later requests on a piped connection pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys

HOST = "127.0.0.1"
MODES = ("pass", "drop", "5xx")


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.piped: set[asyncio.StreamWriter] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        path = parts[1] if len(parts) > 1 else ""
        if path.startswith("/__chaos/"):
            await self.control(path.removeprefix("/__chaos/"), head, reader, writer)
        elif self.mode == "drop":
            reset(writer)
        elif self.mode == "5xx":
            await read_body(head, reader)
            body = b"upstream unavailable"
            writer.write(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
        else:
            await self.pipe(head, reader, writer)

    async def control(
        self, mode: str, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_body(head, reader)
        ok = mode in MODES
        if ok:
            self.mode = mode
            for other in list(self.piped):  # the upstream "restarts": live connections die
                reset(other)
            self.piped.clear()
        body = (f"mode {self.mode}" if ok else f"unknown mode {mode}").encode()
        status = b"200 OK" if ok else b"400 Bad Request"
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    async def pipe(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            reset(writer)
            return
        self.piped |= {writer, up_writer}
        up_writer.write(head)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self.piped -= {writer, up_writer}


async def read_body(head: bytes, reader: asyncio.StreamReader) -> None:
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            with contextlib.suppress(asyncio.IncompleteReadError, OSError):
                await reader.readexactly(int(value.strip()))


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def main(listen_port: int, target_port: int) -> None:
    proxy = Proxy(target_port)
    server = await asyncio.start_server(proxy.serve, HOST, listen_port)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: flaky_proxy.py LISTEN_PORT TARGET_PORT")
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
