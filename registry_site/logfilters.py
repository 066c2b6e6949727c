"""Logging filters: one line for a refused Host header, and no secrets in any log record."""

from __future__ import annotations

import logging
import re

#: ``Authorization: Basic|Bearer <credential>``, ``password=...``, ``token=...`` and JWT-looking strings.
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)(\"?(?:password|passwd|secret|token|access_token|refresh|client_secret)\"?\s*[:=]\s*\"?)[^\"&\s,}]+"), r"\1[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message so credentials a client sent never reach a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is logged as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class NoTracebackFilter(logging.Filter):
    """A refused Host header is the client's mistake: one warning line, not a stack trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
