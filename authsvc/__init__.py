"""qrauth broker: signed-QR tickets, WebSocket push, mobile API and OpenID Connect provider."""
