"""The real Python log server of dareplane_utils on a port of our choice.

`python -m dareplane_utils.logging.server --logfile=...` always listens on
9020, which tests must never bind; this starts the same LogRecordSocketReceiver
on the port given, with the same logging configuration (modify_root_logger).

    python py_log_server.py PORT LOGFILE
"""
import sys
from pathlib import Path

from dareplane_utils.logging.server import LogRecordSocketReceiver


def main():
    port, logfile = int(sys.argv[1]), Path(sys.argv[2])
    rcv = LogRecordSocketReceiver(host="127.0.0.1", port=port, logfile=logfile)
    rcv.daemon_threads = True  # SIGTERM ends it without waiting for clients
    rcv.serve_until_stopped()


if __name__ == "__main__":
    main()
