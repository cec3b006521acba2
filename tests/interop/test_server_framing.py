"""Framing of dp-example-module's command stream however TCP splits it: one
byte per send, many commands in one segment, telnet's \\r\\n, commands
that wait for their terminator, and a command split across segments, at
every byte, with pauses (server.h)."""
import socket

import pytest

import module_util as mu

PCOMMS = b"ECHO|COUNT|SPAWN|CALLBACK|STOP|CLOSE"


@pytest.fixture
def client(procs, port):
    mu.start_example(procs, port, "--error_replies")
    c = mu.Client(port)
    yield c
    c.close()


def test_one_byte_per_send(client):
    msg = b'UP;ECHO|{"text": "bytewise"};GET_PCOMMS;UP\n'
    for b in msg:
        client.send(bytes([b]))
    expected = b"1" + b"bytewise" + PCOMMS + b"1"
    assert client.read_exactly(len(expected)) == expected
    assert client.silent_for(0.2)  # no error for any fragment


def test_many_commands_in_one_segment(client):
    expected = b"11x" + PCOMMS + b"1y"
    assert client.request(b'UP;;UP;ECHO|{"text": "x"};GET_PCOMMS;;UP;ECHO|{"text": "y"};',
                          expected) == expected


def test_telnet_line_endings(client):
    assert client.request(b"UP\r\n", b"1") == b"1"
    assert client.request(b'ECHO|{"text": "telnet"}\r\n', b"telnet") == b"telnet"
    assert client.request(b"STOP|\r\nUP\r\n", b"1") == b"1"
    assert client.request(b"\xc2UP\r\n", b"1") == b"1"  # 0xC2 is dropped


def test_unterminated_commands_wait_for_their_terminator(client):
    """Nothing runs before ';' or a newline, however long the pause: this is
    what dareplane_utils 0.0.24 requires, and what keeps a command whole."""
    for cmd, reply in ((b"UP", b"1"), (b'ECHO|{"text": "no end"}', b"no end"),
                       (b"GET_PCOMMS", PCOMMS), (b"NOPE", b"ERROR unknown command NOPE\n")):
        client.send(cmd)
        assert client.silent_for(0.2)
        assert client.request(b";", reply) == reply


@pytest.mark.parametrize("cmd,reply", [(b"UP;", b"1"),
                                       (b'ECHO|{"text": "split"};', b"split")])
def test_split_at_every_byte_with_pauses(client, cmd, reply):
    """Each split point, with a pause longer than the 50 ms after which
    unterminated bytes used to run: exactly one reply, never an error."""
    for k in range(1, len(cmd)):
        client.send(cmd[:k])
        assert client.silent_for(0.06)
        assert client.request(cmd[k:], reply) == reply
    assert client.silent_for(0.1)


def test_command_split_across_segments(client):
    client.send(b'ECHO|{"te')
    client.send(b'xt": "split"};GET_PC')
    client.send(b"OMMS;")
    expected = b"split" + PCOMMS
    assert client.read_exactly(len(expected)) == expected


def test_replies_go_to_the_asking_client(client, port):
    other = mu.Client(port)
    assert other.request(b'ECHO|{"text": "mine"};', b"mine") == b"mine"
    assert client.silent_for(0.2)
    assert client.request(b"UP;", b"1") == b"1"
    assert other.silent_for(0.1)
    other.close()


def test_positional_arguments_reach_the_handler(client):
    # ECHO ignores positional arguments, but the command must still parse
    assert client.request(b'ECHO|left|right|{"text": "pos"};', b"pos") == b"pos"


def test_nagle_coalesced_burst(client):
    """Many small writes the kernel may merge: every reply arrives in order."""
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    for i in range(200):
        client.send(f'ECHO|{{"text": "{i},"}};'.encode())
    expected = "".join(f"{i}," for i in range(200)).encode()
    assert client.read_exactly(len(expected)) == expected
