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
