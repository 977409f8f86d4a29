"""The client half of the Redis kernel: the arguments it sends and the replies it reads (no server)."""

from __future__ import annotations

from rater.redis_store import decode, encode
from rater.state import Counter, Draw, DrawRequest, DrawResult


def test_a_plain_counter_on_its_own_key_travels_as_period_and_allowance() -> None:
    """No flags and no key index (the next key); full_allowance and carry_base stay off the wire without
    rollover.  A key used again is sent once and named with flag k."""
    request = DrawRequest(
        "rec",
        7,
        (
            Counter("a", 3, allowance=10, full_allowance=10, carry_base=4),
            Counter("b", 3, allowance=6),
            Counter("a", 3, allowance=5),
        ),
    )
    assert encode(request, 60) == (["rec", "a", "b"], ["7", "60", "3", "10", "3", "6", "k", "3", "5", "2"])


def test_flags_carry_their_values_in_letter_order() -> None:
    """k (key index), u, r, f (full allowance), b (carry base), l (field, limit), o (threshold), n,
    q (key index, field), t (retain); a rollover counter whose full allowance is its allowance and whose
    carry base is 0 sends neither."""
    counters = (
        Counter("p", 1, allowance=100, unbounded=True, rollover=True, full_allowance=90, carry_base=5),
        Counter("p", 1, allowance=100, limit_field="l:1:S", limit=30, retain=2),
        Counter("act", 0, observe=True, threshold=9, activate_now=True, requires=("gate", "activated")),
        Counter("roll", 2, allowance=50, rollover=True, full_allowance=50),
    )
    keys, args = encode(DrawRequest("rec", 1, counters), 60)
    assert keys == ["rec", "p", "act", "gate", "roll"]
    assert args == [
        *("1", "60"),
        *("urfb", "1", "100", "90", "5"),
        *("klt", "1", "100", "2", "l:1:S", "30", "2"),
        *("onq", "0", "0", "9", "4", "activated"),
        *("r", "2", "50"),
    ]


def test_tier_ends_travel_as_their_count_then_the_ends() -> None:
    """Flag e (R17 tier entries): tiers 100 + 50 + 25 send their count 2 and the ends E1 = 100, E2 = 150
    (E3 is the allowance, 175); a one-tier bucket sends e and 0; the flag follows t in letter order."""
    counters = (
        Counter("a", 4, allowance=175, tier_ends=(100, 150)),
        Counter("b", 4, allowance=10, tier_ends=()),
        Counter("c", 4, allowance=10, unbounded=True, retain=5, tier_ends=(7,)),
    )
    assert encode(DrawRequest("rec", 1, counters), 60)[1] == [
        *("1", "60"),
        *("e", "4", "175", "2", "100", "150"),
        *("e", "4", "10", "0"),
        *("ute", "4", "10", "5", "1", "7"),
    ]


def test_decode_reads_the_json_reply() -> None:
    """Eight values a counter; the eighth, the tier entries before the draw (R17), is null for a counter
    that keeps none."""
    reply = b"[0,4,[0,6,2,12,0,6,false,1],[5,5,0,null,0,0,true,null]]"
    result = decode(reply)
    assert result == DrawResult((Draw(0, 6, 2, 12, 0, 6, False, 1), Draw(5, 5, 0, None, 0, 0, True)), 4, False)
    assert isinstance(result, DrawResult)
    assert all(isinstance(draw, Draw) for draw in result.draws)
    assert (result.replayed, result.draws[0].taken, result.draws[1].marked) == (False, 6, True)
    assert (result.draws[0].entered, result.draws[1].entered) == (1, None)
    assert decode(b"[0,9]") == DrawResult((), 9, False)


def test_decode_replays_a_json_result_stored_before_tier_entries() -> None:
    """A replay of a result stored by the kernel before ``entered`` (7 values a counter) reads with
    ``entered`` None: pricing then takes the tiers ``before`` reaches, as that kernel's pricing did."""
    reply = b"[1,4,[0,6,2,12,0,6,false],[5,5,0,null,0,0,true]]"
    assert decode(reply) == DrawResult((Draw(0, 6, 2, 12, 0, 6, False), Draw(5, 5, 0, None, 0, 0, True)), 4, True)


def test_decode_reads_a_result_stored_by_the_previous_kernel() -> None:
    """A redelivery within the retention after an upgrade replays a result stored as
    ``remaining;b,a,c,al,lb,la,m;...`` (allowance -1 for none)."""
    reply = b"[1,4;0,6,2,12,0,6,0;5,5,0,-1,0,0,1]"
    assert decode(reply) == DrawResult((Draw(0, 6, 2, 12, 0, 6, False), Draw(5, 5, 0, None, 0, 0, True)), 4, True)
