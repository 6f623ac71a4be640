"""An agent's Socket.IO connection to a real server, as agentscope opens it."""

import asyncio
import threading

import socketio


class Agent:
    """One agent socket on /python (python-socketio's asyncio client, on a loop of its own)."""

    def __init__(self, server, auth, headers=None):
        self.refusals = []
        self.server = server
        self.auth = auth
        self.headers = headers or {}
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("connect_error", self.refusals.append, namespace="/python")

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def connect(self):
        self._run(
            self.sio.connect(
                self.server.url, namespaces=["/python"], auth=self.auth, headers=self.headers, wait_timeout=10
            )
        )
        return self

    def disconnect(self):
        self._run(self.sio.disconnect())

    def close(self):
        self.disconnect()
        self.loop.call_soon_threadsafe(self.loop.stop)
