"""A reply in words, as a reviewer reads it: the one wording every report and message uses."""

from __future__ import annotations

from reference_impl import Reply

__all__ = ["reply_words"]


def reply_words(reply: Reply) -> str:
    """Its status, progress (done/total) and reason, e.g. `failed 3/14 (worker lost)`."""
    text: str = reply.status
    if reply.done is not None and reply.total is not None:
        text += f" {reply.done}/{reply.total}"
    if reply.reason:
        text += f" ({reply.reason})"
    return text
