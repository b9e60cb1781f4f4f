"""The signed authorization form (授权委托书) uploaded at the counter: type by magic bytes."""

from __future__ import annotations

from portal.errors import UploadBadType, UploadRequired, UploadTooLarge

_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the first bytes, or None for anything else."""
    for magic, content_type, ext in _MAGIC:
        if head.startswith(magic):
            return content_type, ext
    return None


def check(data: bytes, *, max_bytes: int) -> tuple[str, str]:
    """The file's (content type, extension), or the documented error."""
    if not data:
        raise UploadRequired()
    if len(data) > max_bytes:
        raise UploadTooLarge(f"{len(data)} bytes")
    kind = sniff(data[:8])
    if kind is None:
        raise UploadBadType(data[:8].hex())
    return kind
