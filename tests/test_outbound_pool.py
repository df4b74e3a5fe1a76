"""Pooled PMS connections: one the server has closed while idle is never used again.

A POST written to such a connection would be lost between the two ends and come back as a
dropped connection, which a write must report as an unknown outcome: the pool has to see the
close first (`outbound._PooledStream` answers it that question).
"""

from __future__ import annotations

import asyncio

import httpx

from propbridge.outbound import OutboundPolicy, guarded_transport

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    connections = 0

    async def answer_once_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Answers one request as if keeping the connection, then closes it (as a server whose
        # keep-alive timeout is shorter than the client's does).
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = guarded_transport(OutboundPolicy.parse("127.0.0.1"), httpx.Limits())
    async with server, httpx.AsyncClient(transport=transport) as http:
        for _ in range(3):
            response = await http.get(f"http://127.0.0.1:{port}/")
            assert response.text == "ok"
            await asyncio.sleep(0.05)  # the close reaches this end
    assert connections == 3
