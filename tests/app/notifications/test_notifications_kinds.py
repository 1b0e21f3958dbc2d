"""The notice kinds a preference may name are the registry's (app/core/events.py)."""

from __future__ import annotations

from typing import get_args

from app.core.events import NOTICE_KINDS
from app.notifications.schemas import Kind


def test_the_preference_kinds_are_the_notice_kinds() -> None:
    """``Kind`` (the wire's literal, which a preferences body is decoded against) and
    ``NOTICE_KINDS`` (what the defaults and the senders use) name the same kinds: a kind
    added to one only would be refused on the wire, or never be settable."""
    assert get_args(Kind) == NOTICE_KINDS
