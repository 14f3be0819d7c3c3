"""Receiving uploaded files: size and type limits on the server, chunks, safe names.

A file arrives as the multipart field ``file``. Big files may come in chunks, each its own
request with ``Content-Range: bytes <first>-<last>/<total>`` (the jQuery-File-Upload and
Uppy convention): the first chunk (``first`` = 0) opens an upload and the answer carries its
``upload_id``; later chunks send it back (form field ``upload_id`` or header
``X-Upload-Id``) and must continue exactly where the file ends. Chunks are appended to
``uploads/.partial/<upload_id>``; the last one moves the file into the owner's folder
(``storage.upload_dir(owner)``) under a safe, unique name. Nothing is ever written outside
the uploads folder, and nothing is served back from it.

Two limits: the file's (the worker's ``upload_max_mb``) and each request's (``MAX_CONTENT_LENGTH``,
else ``STASK_MAX_REQUEST_MB``). A file above the request limit must come in chunks, each within
it. A chunk that does not start where the stored bytes end is refused with 409 and an
``Upload-Offset`` header naming the byte to continue from, so a client whose chunk failed (or
whose answer was lost) resumes without guessing.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis
from flask import current_app, request
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from ..engine.progress import decoded
from ..exceptions import (
    FileTypeNotAllowed,
    InvalidInput,
    InvalidState,
    TooLarge,
    UnsupportedMediaType,
    UploadNotFound,
    UploadOffsetMismatch,
)
from ..service import current_stask
from ..storage import Storage, safe_name

DEFAULT_MAX_MB = 20
DEFAULT_EXTENSIONS = ("csv", "txt", "json")
#: Room for the multipart headers around the file in one request.
MULTIPART_OVERHEAD = 64 * 1024
#: Largest chunk the panel sends (a request limit below it gives smaller chunks).
PANEL_CHUNK = 8 * 1024 * 1024
#: An unfinished chunked upload is forgotten after this many seconds.
SESSION_TTL = 86400
_RANGE = re.compile(r"^bytes (\d{1,15})-(\d{1,15})/(\d{1,15})$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_BLOCK = 64 * 1024


@dataclass(frozen=True)
class UploadPolicy:
    #: The largest file (the worker's ``upload_max_mb``), however many chunks it comes in.
    max_bytes: int
    extensions: tuple[str, ...]
    #: The largest request body (``MAX_CONTENT_LENGTH``, else ``STASK_MAX_REQUEST_MB``).
    request_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> UploadPolicy:
        """``upload_max_mb`` (default 20) and ``upload_extensions`` (default csv, txt, json);
        the request limit from the app."""
        try:
            megabytes = float(settings.get("upload_max_mb", DEFAULT_MAX_MB))
        except (TypeError, ValueError, OverflowError):
            megabytes = DEFAULT_MAX_MB
        if math.isnan(megabytes):
            megabytes = DEFAULT_MAX_MB
        raw = settings.get("upload_extensions", DEFAULT_EXTENSIONS)
        if isinstance(raw, str):
            raw = raw.split(",")
        extensions = tuple(sorted({str(e).strip().lower().lstrip(".") for e in raw or () if str(e).strip()}))
        limit = int(min(max(0.0, megabytes), 2.0**40) * 1024 * 1024)  # "inf" means no limit of its own
        app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
        request_bytes = int(app_limit) if app_limit else current_stask().settings.max_request_mb << 20
        return cls(max_bytes=limit, extensions=extensions, request_bytes=max(1, request_bytes))

    @property
    def chunk_bytes(self) -> int:
        """The chunk size the panel uses: whole requests within the request limit."""
        room = self.request_bytes - min(MULTIPART_OVERHEAD, self.request_bytes // 2)
        return max(1, min(PANEL_CHUNK, room))

    def request_cap(self, piece: int) -> int:
        """The largest body of a request carrying ``piece`` bytes of file."""
        return min(piece + MULTIPART_OVERHEAD, self.request_bytes)

    def check_name(self, filename: str | None) -> str:
        """A safe file name with an allowed extension, or an error saying what is wrong."""
        name = secure_filename(filename or "")
        if not name or "." not in name:
            raise InvalidInput("the file needs a name with an extension")
        extension = name.rsplit(".", 1)[1].lower()
        if extension not in self.extensions:
            allowed = ", ".join(self.extensions) or "none"
            raise FileTypeNotAllowed(f"files of type .{extension} are not accepted here: allowed are {allowed}")
        return safe_name(name[-200:].lstrip("._-") or name)


@dataclass(frozen=True)
class ChunkRange:
    first: int
    last: int
    total: int

    @classmethod
    def parse(cls, header: str) -> ChunkRange:
        match = _RANGE.fullmatch(header.strip())
        if not match:
            raise InvalidInput("Content-Range must look like 'bytes 0-1048575/5242880'")
        first, last, total = (int(v) for v in match.groups())
        if last < first or last >= total:
            raise InvalidInput("Content-Range is inconsistent: need first <= last < total")
        return cls(first, last, total)

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def receive(storage: Storage, connection: redis.Redis, owner: str, policy: UploadPolicy) -> tuple[dict[str, Any], int]:
    """Store the file (or chunk) of the current request; returns (JSON body, HTTP status)."""
    chunk = ChunkRange.parse(request.headers["Content-Range"]) if request.headers.get("Content-Range") else None
    if chunk and chunk.total > policy.max_bytes:
        raise TooLarge(f"files here may be at most {_megabytes(policy.max_bytes)}")
    cap = policy.request_cap(chunk.size if chunk else policy.max_bytes)
    if request.content_length and request.content_length > cap:
        raise TooLarge(_too_large(policy, chunk))
    request.max_content_length = cap
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("send the file as multipart/form-data in a field named 'file'")
    part = request.files.get("file")
    if part is None:
        raise InvalidInput("send the file as multipart/form-data in a field named 'file'")
    name = policy.check_name(part.filename)
    folder = storage.upload_dir(owner)
    if chunk is None:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".incoming-{secrets.token_hex(8)}"
        try:
            with temporary.open("wb") as handle:
                _copy(part, handle, policy.max_bytes, policy)
            final = _place(temporary, folder, name)
        finally:
            temporary.unlink(missing_ok=True)
        return {"success": True, "complete": True, "upload_id": None, "file": _described(final, owner)}, 201
    return _receive_chunk(storage, connection, owner, policy, part, name, chunk)


def _receive_chunk(
    storage: Storage,
    connection: redis.Redis,
    owner: str,
    policy: UploadPolicy,
    part: FileStorage,
    name: str,
    chunk: ChunkRange,
) -> tuple[dict[str, Any], int]:
    partial_dir = storage.root / "uploads" / ".partial"
    partial_dir.mkdir(parents=True, exist_ok=True)
    keys = current_stask().runtime.keys
    upload_id = request.form.get("upload_id") or request.headers.get("X-Upload-Id") or ""
    if not upload_id:
        if chunk.first != 0:
            raise InvalidInput("a chunk after the first needs the upload_id the first chunk returned")
        _sweep(partial_dir)
        upload_id = secrets.token_hex(16)
        connection.hset(keys.upload(upload_id), mapping={"owner": owner, "name": name, "total": chunk.total})
        connection.expire(keys.upload(upload_id), SESSION_TTL)
    elif not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidInput("upload_id is not one this server issued")
    record = decoded(connection.hgetall(keys.upload(upload_id)))
    if record.get("owner") != owner:
        raise UploadNotFound(f"no unfinished upload {upload_id}: start again from the first chunk")
    if record.get("name") != name or int(record.get("total", -1)) != chunk.total:
        raise InvalidInput("every chunk of an upload must carry the same file name and total size")
    path = partial_dir / upload_id
    with path.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        current = handle.seek(0, os.SEEK_END)
        if current != chunk.first:
            raise UploadOffsetMismatch(current, chunk.first)
        written = _copy(part, handle, chunk.size, policy)
        if written != chunk.size:
            handle.truncate(current)
            raise InvalidInput(f"the chunk has {written} bytes but Content-Range announced {chunk.size}")
    received = chunk.last + 1
    if received < chunk.total:
        return {"success": True, "complete": False, "upload_id": upload_id, "received": received}, 202
    connection.delete(keys.upload(upload_id))
    folder = storage.upload_dir(owner)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        final = _place(path, folder, name)
    finally:
        path.unlink(missing_ok=True)
    return {"success": True, "complete": True, "upload_id": upload_id, "file": _described(final, owner)}, 201


def _copy(part: FileStorage, handle: IO[bytes], limit: int, policy: UploadPolicy) -> int:
    """Copy at most ``limit`` bytes; one byte more means the file is too large."""
    written = 0
    while True:
        block = part.stream.read(_BLOCK)
        if not block:
            return written
        written += len(block)
        if written > limit:
            if limit < policy.max_bytes:  # a chunk longer than its Content-Range
                raise InvalidInput("the chunk is longer than its Content-Range")
            raise TooLarge(f"files here may be at most {_megabytes(policy.max_bytes)}")
        handle.write(block)


def _place(source: Path, folder: Path, name: str) -> Path:
    """Move ``source`` to ``folder/name``, or ``name-1``, ``name-2``… if taken (never overwrite)."""
    stem, dot, extension = name.rpartition(".")
    for attempt in range(1000):
        candidate = folder / (name if attempt == 0 else f"{stem}-{attempt}{dot}{extension}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
        except FileExistsError:
            continue
        os.replace(source, candidate)
        return candidate
    raise InvalidState(f"too many files named {name!r} already: rename the file")


def _described(path: Path, owner: str) -> dict[str, Any]:
    return {"name": path.name, "size": path.stat().st_size, "owner": owner}


def _sweep(partial_dir: Path) -> None:
    """Forget chunked uploads abandoned for longer than ``SESSION_TTL``."""
    cutoff = time.time() - SESSION_TTL
    for leftover in partial_dir.iterdir():
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            continue  # another request removed it first


def _too_large(policy: UploadPolicy, chunk: ChunkRange | None) -> str:
    """Why a request is too large: the chunk, the file, or a file that must come in chunks."""
    request_limit = _megabytes(policy.request_bytes)
    if chunk is not None:
        return f"a request may carry at most {request_limit}: send smaller chunks"
    if policy.max_bytes + MULTIPART_OVERHEAD > policy.request_bytes:
        return f"a request may carry at most {request_limit}: send bigger files in chunks (Content-Range)"
    return f"files here may be at most {_megabytes(policy.max_bytes)}"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 100 * 1024 else f"{size:,} bytes"
