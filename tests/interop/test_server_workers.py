"""Workers of dp-example-module: STOP ends threads and whole process trees
(no process of the tree left, no zombie), including descendants that left for
a session of their own (setsid) and trees that ignore SIGTERM (killed after
the grace period); CLOSE, SIGTERM, SIGINT, SIGHUP and SIGKILL of the module
leave no worker process either; workers that end by themselves leave the
book.

A process worker runs under a supervisor process of the module (see
src/proc_tree/proc_tree_linux.c): each SPAWN tree is supervisor -> sh ->
subshell -> sleep, plus the setsid'd sleep with "detach"."""
import contextlib
import ctypes
import os
import signal

import psutil
import pytest

import helpers
import module_util as mu

PR_SET_CHILD_SUBREAPER = 36


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
    tree = mu.wait_tree(p.pid, 8)
    groups = {q.pid for q in tree if q.ppid() == p.pid}  # the supervisors lead them
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
    tree = mu.wait_tree(p.pid, 4)
    c.send(b"STOP;")
    all_gone(tree)


def test_stop_ends_detached_descendants(procs, port, tmp_path):
    """A descendant that left the worker's session (setsid) and whose parent
    exited is still part of the tree: STOP ends it, nothing is left."""
    p, log, c = start(procs, port, tmp_path)
    c.send(b'SPAWN|{"seconds": 60, "detach": true};')
    tree = mu.wait_tree(p.pid, 5)
    sessions = {os.getsid(q.pid) for q in tree}
    assert len(sessions) == 2  # the supervisor's and the detached sleep's
    c.send(b"STOP;")
    try:
        all_gone(tree)
        assert mu.descendants(p.pid) == []
        log_has(log, "process tree of SPAWN#1 is gone")
    finally:
        mu.kill_leftovers(tree)
    assert c.request(b"UP;", b"1") == b"1"


def test_tree_ignoring_sigterm_is_killed(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'SPAWN|{"seconds": 60, "ignore_term": true, "detach": true};')
    tree = mu.wait_tree(p.pid, 5)
    c.send(b"STOP;")
    try:
        log_has(log, "outlived SIGTERM by 2.0 s: SIGKILL to 4 processes")
        all_gone(tree)
        assert mu.descendants(p.pid) == []
    finally:
        mu.kill_leftovers(tree)


def test_close_with_live_workers(procs, port, tmp_path):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 100000, "hz": 100};SPAWN|{"seconds": 60, "detach": true};')
    tree = mu.wait_tree(p.pid, 5)
    c.send(b"CLOSE;")
    try:
        assert p.wait(timeout=10) == 0
        all_gone(tree)
        log_has(log, "Shutting down dp-example-module")
    finally:
        mu.kill_leftovers(tree)
    assert c.closed_by_peer()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_is_a_graceful_shutdown(procs, port, tmp_path, sig):
    p, log, c = start(procs, port, tmp_path)
    c.send(b'COUNT|{"to": 100000, "hz": 100};'
           b'SPAWN|{"seconds": 60, "ignore_term": true, "detach": true};')
    tree = mu.wait_tree(p.pid, 5)
    p.send_signal(sig)  # the module alone, not its group
    try:
        assert p.wait(timeout=15) == 0
        all_gone(tree)
        log_has(log, f"received signal {int(sig)}")
    finally:
        mu.kill_leftovers(tree)


def _subreaper(on: bool):
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


def _reaped(q: psutil.Process) -> bool:
    """Gone for good. Orphans of a dead module or supervisor are adopted by
    this test process (as subreaper; PID 1 here may not reap): reap them."""
    try:
        os.waitpid(q.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return mu.gone(q)


@contextlib.contextmanager
def adopting_orphans():
    """Makes this process a child subreaper for the block; yields the list
    to put the watched processes in, which are killed and reaped at the end."""
    _subreaper(True)
    tree = []
    try:
        yield tree
    finally:
        mu.kill_leftovers(tree)
        for q in tree:
            _reaped(q)
        _subreaper(False)


def all_reaped(tree, timeout=15.0):
    helpers.wait_until(lambda: all(_reaped(q) for q in tree), timeout=timeout,
                       what="every worker process gone")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_module_killed_leaves_no_worker(procs, port, tmp_path, sig):
    """The module dies without shutting down: every worker tree still ends
    (SIGTERM, SIGKILL after the grace period) and leaves no process."""
    with adopting_orphans() as tree:
        p, log, c = start(procs, port, tmp_path)
        c.send(b'SPAWN|{"seconds": 60, "detach": true};'
               b'SPAWN|{"seconds": 60, "ignore_term": true, "detach": true};')
        tree += mu.wait_tree(p.pid, 10)
        p.send_signal(sig)
        assert p.wait(timeout=10) == -sig
        all_reaped(tree)


def test_stopped_supervisor_is_killed_with_its_tree(procs, port, tmp_path):
    """Last resort: a supervisor stopped from outside (SIGSTOP) never reports
    its tree gone; 3 s after the grace period the module kills the tree and
    the supervisor, and the worker leaves the book."""
    with adopting_orphans() as tree:
        p, log, c = start(procs, port, tmp_path)
        c.send(b'SPAWN|{"seconds": 60, "detach": true};')
        tree += mu.wait_tree(p.pid, 5)
        supervisor = next(q for q in tree if q.ppid() == p.pid)
        supervisor.send_signal(signal.SIGSTOP)
        c.send(b"STOP;")
        log_has(log, "process tree of SPAWN#1 still not gone 3.0 s after SIGKILL; killing it",
                timeout=20)
        all_reaped(tree)
        log_has(log, "process tree of SPAWN#1 is gone")
        assert c.request(b"UP;", b"1") == b"1"


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
    assert "Closing process tree" not in log.read_text()
    assert "Stopping thread worker" not in log.read_text()


def test_leader_ending_early_leaves_no_orphan(procs, port, tmp_path):
    """The leader exits while its child lives on: the rest of the group is
    stopped too, so nothing is orphaned."""
    p, log, c = start(procs, port, tmp_path)
    # ECHO has no worker; use SPAWN and kill only the leader shell
    c.send(b'SPAWN|{"seconds": 60};')
    tree = mu.wait_tree(p.pid, 4)
    supervisor = next(q for q in tree if q.ppid() == p.pid)
    leader = next(q for q in tree if q.ppid() == supervisor.pid)
    leader.send_signal(signal.SIGKILL)
    try:
        log_has(log, "stopping what is left of the process tree")
        all_gone(tree)
    finally:
        mu.kill_leftovers(tree)
