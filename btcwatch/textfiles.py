"""Reading the files investigators are handed (ransom e-mails, .eml, CSV, text dumps), bounded.

A file is read in chunks up to `MAX_INPUT_BYTES` (``/dev/zero`` or a 4 GB dump is refused with
one line, never read into memory whole). Its text is searched as it is, and when it is a MIME
message every part is decoded with the standard library (``email.policy.default``): base64
and quoted-printable transfer encodings, any declared charset, nested multiparts and attached
messages, and HTML turned into text. A ransom note whose body is base64 is therefore read like
one in plain text.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from pathlib import Path

from btcwatch.errors import InputError

__all__ = ["MAX_INPUT_BYTES", "InputText", "read_input"]

#: Largest file `read_input` accepts (50 MiB): far above any ransom note or address list.
MAX_INPUT_BYTES = 50 * 1024 * 1024
_CHUNK = 1 << 20
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]", re.MULTILINE)
_MIME_HINTS = (b"mime-version:", b"content-type:", b"content-transfer-encoding:")
_BLOCK_TAGS = frozenset(
    "p br div tr td th li ul ol table pre blockquote hr h1 h2 h3 h4 h5 h6 title".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class InputText:
    """Text to search, and where it came from: ``note.eml`` or ``note.eml part 2``."""

    where: str
    text: str


def read_bounded(path: Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes, read in chunks; InputError past ``limit`` or when unreadable."""
    chunks: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(min(_CHUNK, limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise InputError(
                        f"{path}: larger than {limit // (1024 * 1024)} MB; "
                        "give the ransom note or address list itself"
                    )
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except MemoryError:
        raise InputError(f"{path}: not enough memory to read it") from None
    return b"".join(chunks)


def read_input(path: Path, limit: int = MAX_INPUT_BYTES) -> list[InputText]:
    """The file's raw text first, then each decoded MIME text part if it is an e-mail."""
    data = read_bounded(path, limit)
    texts = [InputText(path.name, data.decode("utf-8", errors="replace"))]
    if looks_like_mail(data):
        for n, part in enumerate(mail_texts(data), start=1):
            texts.append(InputText(f"{path.name} part {n}", part))
    return texts


def looks_like_mail(data: bytes) -> bool:
    """Starts with header lines and names a MIME header within them."""
    head = data[:65536]
    end = head.find(b"\n\n")
    if end == -1:
        end = head.find(b"\r\n\r\n")
    headers = head if end == -1 else head[:end]
    if not _HEADER_LINE.match(headers):
        return False
    lower = headers.lower()
    return any(h in lower for h in _MIME_HINTS)


def mail_texts(data: bytes) -> list[str]:
    """Every text part of a MIME message, decoded; HTML parts as text. Headers come first."""
    message = email.message_from_bytes(data, policy=policy.default)
    texts = [_headers(message)]
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        text = _content(part)
        if part.get_content_subtype() == "html":
            text = html_to_text(text)
        texts.append(text)
    return [t for t in texts if t.strip()]


def _headers(message: Message) -> str:
    """Subject, From, To...: decoded (RFC 2047), one per line."""
    lines = []
    for name, value in message.items():
        try:
            lines.append(f"{name}: {value}")
        except Exception:  # a malformed encoded word: the raw text was scanned already
            continue
    return "\n".join(lines)


def _content(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, ValueError, AssertionError):
        pass  # unknown charset or broken encoding: decode the bytes leniently below
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode("utf-8", errors="replace")


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        for name, value in attrs:  # bitcoin:ADDR links and titles carry addresses too
            if name in ("href", "title", "alt") and value:
                self.parts.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML part (entities decoded, links' targets kept), blocks on lines."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)
