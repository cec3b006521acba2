"""A Python module that logs through dareplane_utils' get_logger (network
handler UJsonSocketHandler) to a log server on a port of our choice.

    python py_log_client.py PORT NAME COUNT      log "record 0" .. "record COUNT-1"
    python py_log_client.py PORT NAME -          log each stdin line

Every record is INFO. The port is set in the default configuration before the
first get_logger(), which is how a module would point it elsewhere.
"""
import logging
import sys

from dareplane_utils.logging import logger as dp_logger


def main():
    port, name, count = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    dp_logger.default_dareplane_config["handlers"]["socket"]["port"] = port
    log = dp_logger.get_logger(name)
    log.setLevel(logging.DEBUG)
    if count == "-":
        for line in sys.stdin:
            log.info(line.rstrip("\n"))
    else:
        for i in range(int(count)):
            log.info("record %s", i)
    logging.shutdown()


if __name__ == "__main__":
    main()
