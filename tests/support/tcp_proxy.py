"""A TCP proxy on 127.0.0.1 that a test can cut, to give an agent a real network blip."""

import socket
import threading


class TcpProxy:
    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.paused = threading.Event()
        self.connections = set()
        self.lock = threading.Lock()
        # Everything clients sent, for tests that check what went over the wire.
        self.sent = bytearray()
        # Client sockets of plain HTTP requests (not a WebSocket) whose answer has not started back.
        self.unanswered = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.paused.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections.update((client, upstream))
            for source, sink, from_client in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(source, sink, from_client, client), daemon=True).start()

    def _pipe(self, source, sink, from_client, client):
        try:
            while data := source.recv(65536):
                if from_client:
                    with self.lock:
                        self.sent += data
                        if data[:5] in (b"POST ", b"GET /") and b"upgrade: websocket" not in data.lower():
                            self.unanswered.add(client)
                sink.sendall(data)
                if not from_client:
                    with self.lock:
                        self.unanswered.discard(client)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def requests_in_flight(self):
        """HTTP requests sent through the proxy whose answer has not yet come back. Cutting while
        one is in flight fails that call in the client (agentscope's POSTs raise, and the
        program ends), which is not the network blip a test means to give."""
        with self.lock:
            return len(self.unanswered & self.connections)

    def cut(self):
        """Drop every open connection and refuse new ones until `resume()`."""
        self.paused.set()
        with self.lock:
            for sock in self.connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self.connections.clear()
            self.unanswered.clear()

    def resume(self):
        self.paused.clear()

    def close(self):
        self.cut()
        self.listener.close()
