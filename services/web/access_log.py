"""gunicorn's access log without the secrets that invitation and reset links carry in their path."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# /{lang}/invitations/{token} and /{lang}/password-reset/{token}: the token is a credential until it is used.
_LINK = re.compile(r"(/(?:invitations|password-reset)/)[^/?\s]+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    """Return the request line or path with any link secret replaced."""
    return _LINK.sub(REDACTED, text)


class RedactingLogger(Logger):
    """gunicorn's logger, writing link paths without their secret wherever an atom holds one."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        # Every atom a format could name: the request line, the path, the referrer, the environ's copies.
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
