import pytest

from apps.common.hooks import Hook


def test_receivers_called_in_order_with_keywords_and_connect_is_idempotent():
    hook = Hook("example")
    calls = []

    def first(*, n):
        calls.append(("first", n))
        return n + 1

    def second(*, n):
        calls.append(("second", n))
        return n * 2

    hook.connect(first)
    hook.connect(second)
    hook.connect(first)
    assert hook.send(n=3) == [4, 6]
    assert calls == [("first", 3), ("second", 3)]
    hook.disconnect(first)
    assert hook.receivers == (second,)


def test_a_failing_receiver_is_not_swallowed():
    hook = Hook("failing")

    @hook.connect
    def boom(**kwargs):
        raise RuntimeError("receiver failed")

    with pytest.raises(RuntimeError, match="receiver failed"):
        hook.send()
