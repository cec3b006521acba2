"""The Python twin of dp-example-module: a dareplane_utils DefaultCallbackServer
with the same commands (ECHO, COUNT, SPAWN, CALLBACK), so that the interop
tests can show that the C module answers the control room's client classes
exactly as a Python module does.

    python peers/example_module.py --port=8081 [--ip=127.0.0.1]

Its network log handler is pointed at DP_LOG_PORT (tests must never log to
the real 9020)."""
import argparse
import logging
import os
import subprocess
import threading

from dareplane_utils.default_server.server import DefaultCallbackServer
from dareplane_utils.logging.logger import get_logger

logger = get_logger("py-example-module")


def redirect_network_logs():
    port = int(os.environ.get("DP_LOG_PORT", "0"))
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.handlers.SocketHandler):
            h.port = port  # connects lazily; port 0 just fails quietly


def make_server(port: int, ip: str) -> DefaultCallbackServer:
    server = DefaultCallbackServer(port=port, ip=ip, name="py-example-module")

    def echo(text: str = "") -> int:
        server.current_conn.sendall(text.encode())
        return 0

    def count(to: int = 10, hz: float = 10.0):
        stop = threading.Event()

        def run():
            for i in range(1, to + 1):
                logger.info(f"count {i}/{to}")
                if i < to and stop.wait(1.0 / hz):
                    break

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, stop

    def spawn(seconds: float = 30.0, ignore_term: bool = False):
        script = ("trap '' TERM; " if ignore_term else "") + f"(sleep {seconds:.3f}; true) & wait"
        return subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True)

    def callback(target: str = "", pcomm: str = "", payload: str = "") -> int:
        server.callback_stack.append(f"{target}|{pcomm}|{payload}")
        return 0

    server.pcommand_map = {"ECHO": echo, "COUNT": count, "SPAWN": spawn, "CALLBACK": callback}
    return server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--loglevel", default="30")
    args = ap.parse_args()
    redirect_network_logs()
    logger.setLevel(int(args.loglevel))
    server = make_server(args.port, args.ip)
    server.init_server()
    server.start_listening()
    server.shutdown()


if __name__ == "__main__":
    main()
