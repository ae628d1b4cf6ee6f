"""The input-shape checks the status and cost filters share: the caller's error class, the input named."""

from collections import OrderedDict

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import CostInputError, stack_cost
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.shapes import require_keys, require_list
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.status import StatusInputError, status_table


class OwnError(ValueError):
    pass


def test_require_keys_returns_a_complete_mapping():
    value = OrderedDict(a=1, b=2)
    assert require_keys(value, ("a", "b"), "thing", OwnError) is value


def test_require_keys_names_the_input_and_every_missing_key():
    with pytest.raises(OwnError, match=r"^thing \{'a': 1\} lacks b, c$"):
        require_keys({"a": 1}, ("a", "b", "c"), "thing", OwnError)


@pytest.mark.parametrize("value", [None, "a", ["a"], 3])
def test_require_keys_refuses_what_is_not_a_mapping(value):
    with pytest.raises(OwnError, match=r"^thing: expected a dict, got "):
        require_keys(value, ("a",), "thing", OwnError)


def test_require_list():
    assert require_list((1,), "xs", OwnError) == (1,)
    assert require_list(None, "xs", OwnError, allow_none=True) == []
    with pytest.raises(OwnError, match=r"^xs: expected a list, got None$"):
        require_list(None, "xs", OwnError)
    with pytest.raises(OwnError, match=r"^xs: expected a list, got 'ab'$"):
        require_list("ab", "xs", OwnError)


def test_each_filter_raises_its_own_class():
    """The one helper keeps each filter's error class, so callers that catch it still do."""
    with pytest.raises(CostInputError, match="instance .* lacks instance_type, state"):
        stack_cost([{"instance_id": "i-1"}], [], "eu-west-1")
    with pytest.raises(StatusInputError, match="lacks"):
        status_table([{"role": "gpu"}], "whisperlive", "eu-west-1", None)
