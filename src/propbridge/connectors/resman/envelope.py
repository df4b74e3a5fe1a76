"""Reading ResMan's v1 `<ResMan>` envelope, whatever shape the reply takes.

Handles `Status=Error` inside an HTTP 200, an envelope inside a non-200, and a MITS payload
escaped as text inside `<Response>`. Parsing only; no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propbridge.connectors.resman.xml_safety import (
    UnsafeXmlError,
    child_text,
    find_child,
    parse_xml,
)


@dataclass
class Envelope:
    """The parts of a v1 reply propbridge uses."""

    method: str | None
    status: str
    error_description: str | None
    response: Any | None

    @property
    def succeeded(self) -> bool:
        """ResMan says `Success`; clients have seen both `Error` and `Failed` otherwise."""
        return self.status.lower() == "success"


def parse_envelope(body: bytes | str) -> Envelope:
    """Parse a reply; raises `UnsafeXmlError` if it is not a safe, well-formed `<ResMan>` XML."""
    root = parse_xml(body)
    if root.tag != "ResMan":
        raise UnsafeXmlError(f"expected a <ResMan> envelope, got <{root.tag}>")
    response = find_child(root, "Response")
    payload = None
    if response is not None:
        children = [c for c in response if isinstance(c.tag, str)]
        if children:
            payload = children[0]
        elif (response.text or "").strip().startswith("<"):
            # Older ResMan replies carried the MITS document as escaped text: parse it again.
            payload = parse_xml(response.text.strip())
    return Envelope(
        method=child_text(root, "MethodName"),
        status=(child_text(root, "Status") or "").strip(),
        error_description=child_text(root, "ErrorDescription"),
        response=payload,
    )
