"""A small TCP proxy (asyncio) from one loopback port to another, for the database drill.

    python loadtest/drills/tcp_proxy.py --listen 45432 --target 127.0.0.1:5432

Run as a process of its own so that killing it (SIGKILL) is what an unreachable database looks
like to the service: every open connection drops and new ones are refused. Only loopback
addresses are accepted on either side. Stops by itself after --max-seconds (default 600).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import sys

CHUNK = 65536


def loopback(host: str) -> str:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing {host!r}: loopback only")
    return host


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen_port: int, target_host: str, target_port: int, max_seconds: float) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, target_port
            )
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, reuse_address=True)
    print(f"proxy 127.0.0.1:{listen_port} -> {target_host}:{target_port}", flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.serve_forever(), max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    asyncio.run(serve(args.listen, loopback(host), int(port), args.max_seconds))


if __name__ == "__main__":
    sys.exit(main())
