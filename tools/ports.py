"""Free TCP ports on 127.0.0.1 for servers that tests, the bench and the local cluster start.

A port picked by binding port 0 comes from Linux's ephemeral range (32768–60999), the range
the machine's own client sockets use too: between the check and the server's bind, an
outgoing connection can take it ("Address already in use"). These ports come from below that
range, where no client socket lands, and are never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 3000, 12000  # below the ephemeral range and Redis test clusters (12000–32000)
_handed_out: set[int] = set()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    while True:
        port = random.randrange(LOW, HIGH)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
