#!/usr/bin/env python3
# A TCP forwarder in front of the platform double, to make a platform outage
# that the double's own faults cannot: while closed, nothing listens on its
# port (connection refused: the request never leaves the worker) and every
# open connection is cut. SIGUSR1 closes it, SIGUSR2 opens it again on the
# same port. Prints "listening on 127.0.0.1:PORT" once.
#   tcp_gate.py TARGET_HOST TARGET_PORT
import asyncio
import signal
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    target_host, target_port = sys.argv[1], int(sys.argv[2])
    conns = set()
    state = {"server": None}

    async def handle(client_reader, client_writer):
        # Tracked from the accept on: a connection still opening its way to
        # the target when the gate closes must not survive the outage.
        if state["server"] is None:
            client_writer.transport.abort()
            return
        conns.add(client_writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            conns.discard(client_writer)
            client_writer.close()
            return
        if state["server"] is None or client_writer.transport.is_closing():
            up_writer.transport.abort()
            client_writer.transport.abort()
            conns.discard(client_writer)
            return
        conns.add(up_writer)
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))
        conns.difference_update({client_writer, up_writer})

    server = await asyncio.start_server(handle, "127.0.0.1", 0, reuse_address=True)
    state["server"] = server
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)

    def close():
        if state["server"] is not None:
            state["server"].close()
            state["server"] = None
        for w in list(conns):
            w.transport.abort()
        conns.clear()

    async def reopen():
        if state["server"] is None:
            server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_address=True)
            state["server"] = server

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, close)
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(reopen()))
    await asyncio.Event().wait()


asyncio.run(main())
