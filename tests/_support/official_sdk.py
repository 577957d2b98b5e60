"""Helpers for driving the official SDK in the compat tests."""

from __future__ import annotations

from agb import AGB
from agb.session import Session
from agb.session_params import CreateSessionParams

IMAGE = "agb-code-space-2"


def create(agb: AGB, **params: object) -> Session:
    result = agb.create(CreateSessionParams(image_id=IMAGE, **params))  # type: ignore[arg-type]
    assert result.success, result.error_message
    session: Session = result.session
    return session
