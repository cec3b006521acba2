"""The Dareplane paper's benchtop chain written in Python the way the
ecosystem writes it (dp-passthrough, dp-threshold-controller; reference §5):
a dareplane_utils DefaultServer whose START runs a loop in a thread that
polls a StreamWatcher, looks at n_new, pushes the value `req` times to keep
the nominal output rate, and paces itself with sleep_s. The interop tests
compare the C modules' values and decisions with these; the benchmark runs
both chains on the same input.

    python peers/chain_module.py passthrough --port=8081 --in_stream=x --out_stream=y
    python peers/chain_module.py controller --port=8082 --threshold=0.5 ...

Its network log handler is pointed at DP_LOG_PORT (never the real 9020)."""
import argparse
import logging
import logging.handlers
import os
import threading

import numpy as np
import pylsl
from dareplane_utils.default_server.server import DefaultServer
from dareplane_utils.general.time import sleep_s
from dareplane_utils.logging.logger import get_logger
from dareplane_utils.stream_watcher.lsl_stream_watcher import StreamWatcher

logger = get_logger("py-chain-module")


def redirect_network_logs():
    port = int(os.environ.get("DP_LOG_PORT", "0"))
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.handlers.SocketHandler):
            h.port = port


def passthrough_value(new: np.ndarray, channel: int) -> float:
    return np.median(new[:, channel - 1])


def controller_value(new: np.ndarray, threshold: float) -> float:
    return 150 if np.mean(new) > threshold else 10


def run_loop(stop: threading.Event, a, out_type: str, compute, pace: float):
    sw = StreamWatcher(a.in_stream, buffer_size_s=a.buffer_s)
    sw.connect_to_stream()
    info = pylsl.StreamInfo(a.out_stream, out_type, 1, a.f_out, "float32")
    outlet = pylsl.StreamOutlet(info)
    t_last = pylsl.local_clock()
    while not stop.is_set():
        sw.update()
        now = pylsl.local_clock()
        req = int(a.f_out * (now - t_last))
        if req > 0 and sw.n_new > 0:
            t_last = now
            new = sw.unfold_buffer()[-sw.n_new:]
            value = compute(new)
            outlet.push_chunk([[value]] * req)
            sw.n_new = 0
        sleep_s(pace / a.f_out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["passthrough", "controller"])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--in_stream", required=True)
    ap.add_argument("--out_stream", required=True)
    ap.add_argument("--channel", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=15000)
    ap.add_argument("--f_out", type=float, default=2000)
    ap.add_argument("--buffer_s", type=float, default=0.5)
    ap.add_argument("--loglevel", default="30")
    a = ap.parse_args()
    redirect_network_logs()
    logger.setLevel(int(a.loglevel))
    if a.kind == "passthrough":
        out_type, pace = "decoder_output", 0.95
        compute = lambda new: passthrough_value(new, a.channel)  # noqa: E731
    else:
        out_type, pace = "control_signal", 0.9
        compute = lambda new: controller_value(new, a.threshold)  # noqa: E731

    def start():
        stop = threading.Event()
        th = threading.Thread(target=run_loop, args=(stop, a, out_type, compute, pace),
                              daemon=True)
        th.start()
        return th, stop

    server = DefaultServer(port=a.port, ip=a.ip, name=f"py-{a.kind}",
                           pcommand_map={"START": start})
    server.init_server()
    server.start_listening()
    server.shutdown()


if __name__ == "__main__":
    main()
