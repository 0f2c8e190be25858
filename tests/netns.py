"""Loopback ports carried between network namespaces through Unix sockets, for the tests.

A process in a network namespace of its own (`unshare -n`) has a loopback of its own: nothing on
the host's 127.0.0.1 is reachable from it. The file system is still shared, so a port is carried
across through a Unix socket: on the host, `unix:PATH=tcp:PORT` accepts on PATH and connects to
127.0.0.1:PORT; inside, `tcp:PORT=unix:PATH` accepts on 127.0.0.1:PORT and connects to PATH. That
is all a Locust worker there can reach: the service's port and the master's, as a worker on
another host reaches them through the network.

    python tests/netns.py [--lo-up] LISTEN=TARGET... [-- COMMAND...]

With a COMMAND (run inside the namespace), the forwarding lasts as long as it does and the exit
code is its; without, until SIGTERM. Prints `forwarding` once every listener is open.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys


async def _open(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, where = address.partition(":")
    if kind == "tcp":
        return await asyncio.open_connection("127.0.0.1", int(where))
    return await asyncio.open_unix_connection(where)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _listen(listen: str, target: str) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await _open(target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, far_writer), _pipe(far_reader, writer))
        for end in (writer, far_writer):
            end.close()

    kind, _, where = listen.partition(":")
    if kind == "tcp":
        return await asyncio.start_server(handle, "127.0.0.1", int(where))
    return await asyncio.start_unix_server(handle, where)


async def _main(pairs: list[tuple[str, str]], command: list[str]) -> int:
    servers = [await _listen(listen, target) for listen, target in pairs]
    print("forwarding", flush=True)
    loop = asyncio.get_running_loop()
    if not command:
        stopped = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stopped.set_result, None)
        await stopped
        code = 0
    else:
        child = await asyncio.create_subprocess_exec(*command)
        loop.add_signal_handler(signal.SIGTERM, child.terminate)
        code = await child.wait()
    for server in servers:
        server.close()
    return code


def main(argv: list[str]) -> int:
    command: list[str] = []
    if "--" in argv:
        argv, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    if "--lo-up" in argv:
        argv = [a for a in argv if a != "--lo-up"]
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    pairs = [(a.partition("=")[0], a.partition("=")[2]) for a in argv]
    return asyncio.run(_main(pairs, command))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
