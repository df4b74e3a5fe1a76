"""A webhook receiver that checks propbridge's signatures (Python standard library only).

Copy `verify` into your app. Run this file to try it:

    python examples/webhook_receiver.py --port 9000 --secret 'whsec_...'

then create a webhook with `"url": "http://127.0.0.1:9000/"` and that secret. Each verified
delivery is printed; a bad signature gets a 401 (propbridge then retries it).
Deliveries can arrive more than once (a retry after a lost answer): deduplicate on `webhook-id`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True when the body was signed with `secret`: `propexo-signature` (hex HMAC-SHA256 of
    the body) and the Standard Webhooks `webhook-signature`, with a fresh timestamp."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("propexo-signature", "")):
        return False
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = secret.encode()
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[len("whsec_") :])
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers.get("webhook-signature", "").split()]
    return any(hmac.compare_digest(digest, candidate) for candidate in offered)


def make_handler(
    secret: str, on_event: Callable[[dict[str, str], Any], int]
) -> type[BaseHTTPRequestHandler]:
    """A request handler that verifies each POST and hands its event to `on_event`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not verify(secret, headers, body):
                self.send_response(401)
                self.end_headers()
                return
            status = on_event(headers, json.loads(body))
            self.send_response(status or 204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()

    def show(headers: dict[str, str], event: dict[str, object]) -> int:
        print(headers["webhook-id"], json.dumps(event), flush=True)
        return 204

    ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.secret, show)).serve_forever()


if __name__ == "__main__":
    main()
