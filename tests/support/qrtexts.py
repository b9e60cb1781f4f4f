"""QR texts as the broker signs them, for the tests of the encoders that draw them."""

from __future__ import annotations

from authsvc.core import qr
from authsvc.core.crypto import Algorithm, generate
from authsvc.core.tickets import Identity, new_ticket_id

ISSUERS = ["http://127.0.0.1:8700", "https://auth.hrss.example.gov.cn"]
CLIENTS = ["hall", "portal", "social-security-hall-01", "x" * 60]


def ticket_texts(count: int) -> list[str]:
    """What qr.build writes for the broker's issuers, client ids and both algorithms."""
    keys = [generate(alg) for alg in (Algorithm.ED25519, Algorithm.ES256)]
    return [
        qr.build(
            qr.QrClaims(
                issuer=ISSUERS[i % 2],
                ticket_id=new_ticket_id(),
                client_id=CLIENTS[i % 4],
                identity=Identity.PERSONAL,
                expires_at=1_800_000_000 + i,
                kid="0123456789abcdef",
            ),
            keys[i // 2 % 2],
        )
        for i in range(count)
    ]
