"""A minimal WebSocket client (RFC 6455) for the idle-socket measurement.

10,000 sockets opened with aiohttp's client cost the generator ~1 ms of CPU each, as much as
the floor server spends accepting them, on a 2-core machine that runs both. This client does
only what an idle browser tab does: the upgrade (offering permessage-deflate, as browsers do),
one masked text frame (the auth message), read the first state, then answer pings until told
to close. No fragments. A server that accepts the offer keeps a compressor per socket, and the
idle-socket figure shows what that costs: this client inflates what such a server sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import struct
import zlib
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
RSV1 = 0x40  # the frame's payload is compressed (RFC 7692 §6)
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"  # what Chrome and Firefox send
_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.2: taken off each message by the sender


class HandshakeFailed(Exception):
    """The server did not switch protocols, or answered the auth with something else."""


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return head + mask + masked


async def read_frame(reader: asyncio.StreamReader, inflater: Any = None) -> tuple[int, bytes]:
    """(opcode, payload) of the next server frame (servers do not mask), inflated when it is
    compressed (only a server that accepted permessage-deflate sends such: `inflater` is then
    the socket's decompressor)."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack(">H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack(">Q", await reader.readexactly(8))
    payload = await reader.readexactly(n)
    if first & RSV1:
        if inflater is None:
            raise HandshakeFailed("a compressed frame without permessage-deflate")
        payload = inflater.decompress(payload + _DEFLATE_TAIL)
    return first & 0x0F, payload


class IdleSocket:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, inflater: Any = None
    ) -> None:
        self.reader, self.writer, self.inflater = reader, writer, inflater
        self.task: asyncio.Task[None] | None = None
        self.ended_by_server = False

    @classmethod
    async def open(
        cls, host: str, port: int, path: str, origin: str, hello: dict[str, Any]
    ) -> IdleSocket:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            key = base64.b64encode(os.urandom(16))
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n"
                f"Origin: {origin}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # RFC 6455 §4.2.2
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                raise HandshakeFailed(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            inflater = zlib.decompressobj(-15) if b"permessage-deflate" in head.lower() else None
            writer.write(frame(TEXT, json.dumps(hello).encode()))
            opcode, payload = await read_frame(reader, inflater)
            state = json.loads(payload).get("state") if opcode == TEXT else None
            if state != "pending":
                raise HandshakeFailed(f"first frame {opcode}: {payload[:80]!r}")
        except BaseException:
            writer.close()
            raise
        sock = cls(reader, writer, inflater)
        sock.task = asyncio.create_task(sock._answer_pings())
        return sock

    async def _answer_pings(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                opcode, payload = await read_frame(self.reader, self.inflater)
                if opcode == PING:
                    self.writer.write(frame(PONG, payload))
                elif opcode == CLOSE:
                    break
        self.ended_by_server = True  # a close frame or EOF (our own close cancels this task)
        self.writer.close()

    async def close(self, timeout: float = 5.0) -> None:
        """Close handshake from our side, then drop the connection."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                self.writer.write(frame(CLOSE, struct.pack(">H", 1000)))
                async with asyncio.timeout(timeout):
                    while (await read_frame(self.reader, self.inflater))[0] != CLOSE:
                        pass
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(timeout):
                await self.writer.wait_closed()
