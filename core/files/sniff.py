"""What a file is, told by its bytes (never by its name or the client's word).

`Sniffer` is fed the content chunk by chunk as it streams in (it keeps only the first bytes and
whether the whole is NUL-free UTF-8); `detect(sniffer, path)` then names the type, looking into
the finished file where the head cannot tell: whether a text parses as JSON, what a ZIP holds.
`reconcile(detected, declared, name)` checks the detected type against what the client said.
"""

from __future__ import annotations

import codecs
import json
import mimetypes
import zipfile
from pathlib import Path

HEAD_BYTES = 8192
JSON_PARSE_LIMIT = 64 * 1024 * 1024  # a larger text starting with { or [ is left as text/plain

TEXT = "text/plain"
OCTET_STREAM = "application/octet-stream"
ZIP = "application/zip"
OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# (offset, magic bytes, type): the first that matches names a binary file
MAGIC = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),  # an empty archive
    (0, b"MZ", "application/x-msdownload"),  # Windows executables
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (0, b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xca\xfe\xba\xbe", "application/java-vm"),
    (0, b"#!", "text/x-shellscript"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
)
# Text that a browser would run or render as a page: recognised so that it is refused (and, if a
# setting ever allowed it, still never served inline).
MARKUP = (
    (b"<!doctype html", "text/html"), (b"<html", "text/html"), (b"<head", "text/html"),
    (b"<body", "text/html"), (b"<script", "text/html"), (b"<iframe", "text/html"), (b"<svg", "image/svg+xml"),
    (b"<?xml", "application/xml"),
)
# Types a client may name for another spelling of the same thing.
ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-zip-compressed": ZIP,
    "text/comma-separated-values": "text/csv", "application/csv": "text/csv", "text/x-csv": "text/csv",
    "application/x-pdf": "application/pdf", "text/json": "application/json",
}
# Types that are text underneath: a text file may be declared as any of them.
TEXT_KINDS = {TEXT, "text/csv", "application/json", "text/tab-separated-values", "text/markdown"}
# Never shown in a browser tab, whatever their type says: downloads are always attachments, and
# these are the reason.
ACTIVE_TYPES = {"text/html", "image/svg+xml", "application/xml", "text/xml", "application/xhtml+xml"}


class Sniffer:
    """Fed every chunk of a file: keeps its head, and whether it is all NUL-free UTF-8."""

    def __init__(self) -> None:
        self.head = b""
        self.size = 0
        self.text = True
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.size += len(chunk)
        if self.text:
            if b"\x00" in chunk:
                self.text = False
                return
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self.text = False

    def finish(self) -> None:
        if self.text:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:  # cut in the middle of a character
                self.text = False


def detect(sniffer: Sniffer, path: Path | None = None) -> str:
    """The file's type from its content: a known binary type by its magic bytes (a ZIP opened
    to tell an Office document), else JSON, markup or plain text when it is NUL-free UTF-8,
    else application/octet-stream. `path`: the finished file (for JSON and ZIP)."""
    sniffer.finish()
    head = sniffer.head
    for offset, magic, kind in MAGIC:
        if head[offset:offset + len(magic)] == magic:
            if kind == "application/x-msdownload" and sniffer.text:
                continue  # "MZ" starting a text (a CSV's first cell), not a program
            if kind == ZIP and path is not None:
                return _zip_kind(path)
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if not sniffer.text:
        return OCTET_STREAM
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for prefix, kind in MARKUP:
        if start.startswith(prefix):
            if kind == "application/xml" and b"<svg" in head.lower():
                return "image/svg+xml"
            return kind
    if start[:1] in (b"{", b"[") and path is not None and sniffer.size <= JSON_PARSE_LIMIT:
        try:
            with open(path, "rb") as handle:
                json.load(handle)
            return "application/json"
        except ValueError:
            pass
    return TEXT


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return OCTET_STREAM
    if "[Content_Types].xml" in names:
        for prefix, kind in OFFICE.items():
            if any(name.startswith(prefix) for name in names):
                return kind
    return ZIP


def normalise(content_type: str | None) -> str | None:
    """`Text/CSV; charset=utf-8` -> `text/csv` (aliases resolved); None for none or octet-stream."""
    if not content_type:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    kind = ALIASES.get(kind, kind)
    return None if kind in ("", OCTET_STREAM, "binary/octet-stream") else kind


def declared_type(content_type: str | None, name: str) -> str | None:
    """What the client says the file is: its part's Content-Type, else its name's extension."""
    return normalise(content_type) or normalise(mimetypes.guess_type(name, strict=False)[0])


def reconcile(detected: str, declared: str | None) -> str | None:
    """The type to store: the detected one, refined by the declared one where the content
    cannot tell (a text declared CSV is CSV). None when they disagree."""
    if declared is None or declared == detected:
        return detected
    if detected == TEXT and declared in TEXT_KINDS and declared != "application/json":
        return declared  # CSV, TSV, Markdown are plain text to a sniffer
    if detected == "application/json" and declared in (TEXT,):
        return TEXT
    if detected in OFFICE.values() and declared == ZIP:
        return detected
    return None
