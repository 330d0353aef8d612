"""pytest-socket and pytest-recording came with langchain-tests; either can block the network for
a whole run (--disable-socket, --block-network). Our tests start local servers (the HTTP API, a
fake OpenAI server, Streamlit), so loopback sockets must keep working in every run of the suite."""

from __future__ import annotations

import socket
import threading


def test_a_local_server_can_be_started_and_reached() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def echo() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(connection.recv(16).upper())

        thread = threading.Thread(target=echo, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"ping")
            assert client.recv(16) == b"PING"
        thread.join(timeout=5)
