"""Application attachments (附件材料): checked by content (portal.rules.uploads), stored under a
random name in PORTAL_UPLOAD_DIR/applications."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from pathlib import Path

from portal.db.models import (
    ApplicationAttachment,
)
from portal.services.application_base import Storage, Upload


async def store(
    storage: Storage, kind: str, upload: Upload, content_type: str, ext: str, now: dt.datetime
) -> ApplicationAttachment:
    stored = secrets.token_hex(16) + ext
    await asyncio.to_thread(_write, storage.upload_dir / "applications" / stored, upload.data)
    return ApplicationAttachment(
        kind=kind,
        original_name=Path(upload.filename).name[:200] or "upload",
        content_type=content_type,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        stored_name=stored,
        uploaded_at=now,
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def attachment_path(storage: Storage, attachment: ApplicationAttachment) -> Path:
    return storage.upload_dir / "applications" / attachment.stored_name
