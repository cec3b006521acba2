"""Workers of dp-example-module: STOP ends threads and whole process trees
(no process of the group left, no zombie), a tree that ignores SIGTERM is
killed after the grace period, CLOSE and SIGTERM shut down with live
workers, and workers that end by themselves leave the book."""
import signal

import helpers
import module_util as mu


def start(procs, port, tmp_path):
    log = open(tmp_path / "module.log", "wb")
    p = mu.start_example(procs, port, stderr=log)
    return p, tmp_path / "module.log", mu.Client(port)


def log_has(path, text, timeout=10.0):
    return helpers.wait_until(lambda: text in path.read_text(errors="replace"), timeout=timeout,
                              what=f"log line {text!r}")


def all_gone(tree, timeout=10.0):
    helpers.wait_until(lambda: all(mu.gone(p) for p in tree), timeout=timeout,
                       what="every process of the tree reaped")


def test_stop_ends_threads_and_process_trees(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 100000, "hz": 100};SPAWN|{"seconds": 60};SPAWN|{"seconds": 60};')
    tree = mu.wait_tree(p.pid, 6)
    groups = {q.pid for q in tree if q.ppid() == p.pid}
    assert len(groups) == 2
    log_has(log, "count 2/100000")
    c.send(b"STOP;")
    try:
        all_gone(tree)
        assert all(mu.group_empty(g) for g in groups)
        log_has(log, "count stopped at")
        log_has(log, "thread worker COUNT#1 ended after STOP")
        assert mu.descendants(p.pid) == []
    finally:
        mu.kill_leftovers(tree)
    assert c.request(b"UP;", b"1") == b"1"
    # and the book is usable again
    c.send(b'SPAWN|{"seconds": 60};')
    tree = mu.wait_tree(p.pid, 3)
    c.send(b"STOP;")
    all_gone(tree)


def test_tree_ignoring_sigterm_is_killed(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'SPAWN|{"seconds": 60, "ignore_term": true};')
    tree = mu.wait_tree(p.pid, 3)
    c.send(b"STOP;")
    try:
        log_has(log, "outlived SIGTERM")
        all_gone(tree)
        assert mu.descendants(p.pid) == []
    finally:
        mu.kill_leftovers(tree)


def test_close_with_live_workers(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 100000, "hz": 100};SPAWN|{"seconds": 60};')
    tree = mu.wait_tree(p.pid, 3)
    c.send(b"CLOSE;")
    try:
        assert p.wait(timeout=10) == 0
        all_gone(tree)
        log_has(log, "Shutting down dp-example-module")
    finally:
        mu.kill_leftovers(tree)
    assert c.closed_by_peer()


def test_sigterm_is_a_graceful_shutdown(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 100000, "hz": 100};SPAWN|{"seconds": 60, "ignore_term": true};')
    tree = mu.wait_tree(p.pid, 3)
    p.send_signal(signal.SIGTERM)  # the module alone, not its group
    try:
        assert p.wait(timeout=15) == 0
        all_gone(tree)
        log_has(log, "received signal 15")
    finally:
        mu.kill_leftovers(tree)


def test_workers_that_end_by_themselves_leave_the_book(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 3, "hz": 100};SPAWN|{"seconds": 0.2};')
    log_has(log, "count done at 3")
    log_has(log, "thread worker COUNT#1 ended")
    log_has(log, "process worker SPAWN#2")
    helpers.wait_until(lambda: mu.descendants(p.pid) == [], what="no process left")
    # nothing is left for STOP to do
    c.send(b"STOP;")
    assert c.request(b"UP;", b"1") == b"1"
    assert "Closing process group" not in log.read_text()
    assert "Stopping thread worker" not in log.read_text()


def test_leader_ending_early_leaves_no_orphan(procs, port, tmp_path):
    """The leader exits while its child lives on: the rest of the group is
    stopped too, so nothing is orphaned."""
    p, log, c = start(procs, port, tmp_path)
    # ECHO has no worker; use SPAWN and kill only the leader shell
    c.send(b'SPAWN|{"seconds": 60};')
    tree = mu.wait_tree(p.pid, 3)
    leader = next(q for q in tree if q.ppid() == p.pid)
    leader.send_signal(signal.SIGKILL)
    try:
        log_has(log, "stopping what is left of the process group")
        all_gone(tree)
    finally:
        mu.kill_leftovers(tree)
