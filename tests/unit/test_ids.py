"""Resource ids: prefixed, fixed length, ordered by creation time, unique."""

from __future__ import annotations

from hookline import ids


def test_ids_carry_their_type_prefix_and_a_fixed_length_body() -> None:
    value = ids.new_id(ids.MESSAGE)
    assert value.startswith("msg_") and ids.has_prefix(value, ids.MESSAGE)
    assert len(value) == len("msg_") + 25 and value[4:].isalnum()


def test_ids_sort_by_creation_time() -> None:
    earlier = ids.new_id(ids.ATTEMPT, now=1_700_000_000.000)
    later = ids.new_id(ids.ATTEMPT, now=1_700_000_000.001)
    much_later = ids.new_id(ids.ATTEMPT, now=2_500_000_000.0)
    assert earlier < later < much_later


def test_ids_made_in_the_same_millisecond_are_still_unique() -> None:
    made = {ids.new_id(ids.ENDPOINT, now=1_700_000_000.0) for _ in range(20_000)}
    assert len(made) == 20_000


def test_ids_made_one_after_the_other_in_a_process_are_in_that_order() -> None:
    made = [ids.new_id(ids.MESSAGE) for _ in range(20_000)]  # many share a millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert len({value[4:13] for value in made}) < len(made)  # same millisecond, still ordered


def test_ids_made_in_a_batch_continue_the_order_of_single_ones() -> None:
    before = ids.new_id(ids.ATTEMPT)
    batch = ids.new_ids(ids.ATTEMPT, 5000)
    after = ids.new_id(ids.ATTEMPT)
    made = [before, *batch, after]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(ids.has_prefix(i, ids.ATTEMPT) for i in made)
    assert ids.new_ids(ids.ATTEMPT, 0) == []


def test_the_split_encoding_writes_the_same_digits_as_plain_base62() -> None:
    """`_format` encodes the random part in halves (cached high half, unrolled low half)."""
    import random

    rng = random.Random(7)
    top_random, top_time = 2**ids._RANDOM_BITS - 1, 62**ids._TIME_CHARS - 1
    cases = [(0, 0), (top_time, top_random), (1, ids._HALF - 1), (2, ids._HALF)]
    cases += [(rng.randrange(top_time), rng.randrange(top_random)) for _ in range(5_000)]
    for millis, part in cases:
        plain = (ids._base62(millis, ids._TIME_CHARS)
                 + ids._base62(part, ids._RANDOM_CHARS))
        assert ids._format("x", millis, part) == "x_" + plain


def test_a_reserve_hands_the_unused_ids_to_the_next_call_while_they_are_fresh() -> None:
    reserve = ids.IdReserve(ids.ATTEMPT, max_age=60)
    first = reserve.take(10)
    reserve.give_back(first[3:])
    second = reserve.take(10)
    assert second[:7] == first[3:] and second == sorted(second)
    assert len(set(first[:3] + second)) == 13

    stale = ids.IdReserve(ids.ATTEMPT, max_age=0)
    made = stale.take(5)
    stale.give_back(made[1:])
    assert not set(stale.take(5)) & set(made)  # too old: new ones instead


def test_interleaved_calls_never_hand_out_an_id_twice_and_each_list_is_ordered() -> None:
    reserve = ids.IdReserve(ids.ATTEMPT, max_age=60)
    used: list[str] = []
    for _ in range(200):
        a, b = reserve.take(8), reserve.take(5)  # two claims at once
        for taken, n in ((a, 3), (b, 2)):  # the older list comes back first
            assert taken == sorted(taken)
            used += taken[:n]
            reserve.give_back(taken[n:])
    assert len(used) == len(set(used)) == 1000
