"""A TCP proxy on loopback that can hold new connections: a way to freeze a process
in the middle of its first Kubernetes API call, over real HTTP, without touching the
process itself."""

from __future__ import annotations

import contextlib
import socket
import threading


class HoldingProxy:
    """Forwards 127.0.0.1:<port> to `target`. While `hold` is set, new connections
    wait (up to `max_hold` seconds) before anything is forwarded."""

    def __init__(self, target_host: str, target_port: int, *, max_hold: float = 120) -> None:
        self.target = (target_host, target_port)
        self.max_hold = max_hold
        self.hold = threading.Event()
        self.held = threading.Event()  # set once a connection is being held
        self.accepted = 0  # connections accepted so far (one per client attempt)
        self._released = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def close(self) -> None:
        self._closing = True
        self.release()
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.hold.is_set():
            self.held.set()
            self._released.wait(self.max_hold)
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
