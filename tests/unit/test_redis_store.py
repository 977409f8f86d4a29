"""The client half of the Redis kernel: the arguments it sends and the replies it reads (no server)."""

from __future__ import annotations

from rater.redis_store import decode, encode
from rater.state import Counter, Draw, DrawRequest, DrawResult


def test_a_plain_counter_travels_as_three_arguments_and_keys_are_shared() -> None:
    """Key index, period, allowance, no flags; full_allowance and carry_base stay off the wire without
    rollover; a key used twice is sent once."""
    request = DrawRequest(
        "rec", 7, (Counter("a", 3, allowance=10, full_allowance=10, carry_base=4), Counter("a", 3, allowance=5))
    )
    assert encode(request, 60) == (["rec", "a"], ["7", "60", "2", "3", "10", "2", "3", "5"])


def test_flags_carry_their_values_in_letter_order() -> None:
    """u, r (full allowance, carry base), l (field, limit), o (threshold), n, q (key index, field), t (retain)."""
    counters = (
        Counter("p", 1, allowance=100, unbounded=True, rollover=True, full_allowance=90, carry_base=5),
        Counter("p", 1, allowance=100, limit_field="l:1:S", limit=30, retain=2),
        Counter("act", 0, observe=True, threshold=9, activate_now=True, requires=("gate", "activated")),
    )
    keys, args = encode(DrawRequest("rec", 1, counters), 60)
    assert keys == ["rec", "p", "act", "gate"]
    assert args == [
        *("1", "60"),
        *("ur", "2", "1", "100", "90", "5"),
        *("lt", "2", "1", "100", "l:1:S", "30", "2"),
        *("onq", "3", "0", "0", "9", "4", "activated"),
    ]


def test_decode_reads_the_json_reply() -> None:
    reply = b"[1,4,[0,6,2,12,0,6,false],[5,5,0,null,0,0,true]]"
    assert decode(reply) == DrawResult((Draw(0, 6, 2, 12, 0, 6, False), Draw(5, 5, 0, None, 0, 0, True)), 4, True)
    assert decode(b"[0,9]") == DrawResult((), 9, False)


def test_decode_reads_a_result_stored_by_the_previous_kernel() -> None:
    """A redelivery within the retention after an upgrade replays a result stored as
    ``remaining;b,a,c,al,lb,la,m;...`` (allowance -1 for none)."""
    reply = b"[1,4;0,6,2,12,0,6,0;5,5,0,-1,0,0,1]"
    assert decode(reply) == DrawResult((Draw(0, 6, 2, 12, 0, 6, False), Draw(5, 5, 0, None, 0, 0, True)), 4, True)
