"""Fixtures of the outbound client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outbound.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started
