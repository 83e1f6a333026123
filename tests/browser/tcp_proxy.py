"""A TCP forwarder on 127.0.0.1 that a test can use to cut every open connection (a dropped WebSocket).

``with TcpProxy(target_port) as proxy:`` listens on ``proxy.port`` and forwards each connection to
``127.0.0.1:target_port``; ``proxy.drop()`` closes all connections open now (new ones are still accepted),
which is what a flaky network does to a browser's WebSocket. ``proxy.sent`` counts the bytes the clients sent.
"""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy:
    """Forward 127.0.0.1:``port`` → 127.0.0.1:``target``; ``drop()`` cuts the open connections."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.sent = 0
        self.drops = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if outgoing:
                    with self.lock:
                        self.sent += len(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._close(sock)

    def _close(self, sock: socket.socket, *, reset: bool = False) -> None:
        try:
            # drop(): linger 0 is set, so close() resets (a broken network), and SHUT_RD sends no FIN first
            sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)  # also wakes the pump's recv
        except OSError:
            pass
        sock.close()
        with self.lock:
            if sock in self.open:
                self.open.remove(sock)

    def drop(self) -> int:
        """Close every connection open now (both ends, like a network cut); returns how many were cut."""
        with self.lock:
            victims = list(self.open)
            self.drops += 1
        for sock in victims:  # every socket first, so no pump thread closes a peer politely in between
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        for sock in victims:
            self._close(sock, reset=True)
        return len(victims) // 2

    def close(self) -> None:
        """Stop listening and cut everything."""
        self.closed = True
        self.listener.close()
        self.drop()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
