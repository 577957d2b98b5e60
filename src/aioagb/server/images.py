"""Which image ids AGB Local accepts, and what each one offers (DESIGN.md "AGB Local's images").

Code written for the cloud names the cloud's images; AGB Local serves all of the families
below as a code-space sandbox (python, shell, files); browser images also run a headless
Chromium (`routes/browser.py`). Desktop tools and the browser agent's tools are not served;
they are answered with a clear "not available on AGB Local" error instead.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from .. import _protocol as p
from .envelope import CODE_IMAGE_NOT_FOUND, ApiError, bad_request


class ImageKind(enum.Enum):
    """The image families AGB Local serves (DESIGN.md "AGB Local's images")."""

    CODE_SPACE = "code-space"
    BROWSER_USE = "browser-use"
    COMPUTER_USE = "computer-use"


def image_kind(image_id: str) -> ImageKind | None:
    """The family of `image_id`, or None when the cloud would not know it either."""
    if image_id == p.IMAGE_CODE_LATEST:
        return ImageKind.CODE_SPACE
    prefixes = (
        (p.IMAGE_PREFIX_CODE_SPACE, ImageKind.CODE_SPACE),
        (p.IMAGE_PREFIX_BROWSER_USE, ImageKind.BROWSER_USE),
        (p.IMAGE_PREFIX_COMPUTER_USE, ImageKind.COMPUTER_USE),
    )
    for prefix, kind in prefixes:
        # A bare prefix ("agb-code-space-") names no image.
        if image_id.startswith(prefix) and len(image_id) > len(prefix):
            return kind
    return None


def requested_image(query: Mapping[str, str]) -> str:
    """The request's `imageId` query parameter; a 400 when it is missing, or names no image
    AGB Local serves (as the cloud refuses an unknown image)."""
    image_id = query.get(p.Q_IMAGE_ID, "").strip()
    if not image_id:
        raise bad_request("imageId is required")
    if image_kind(image_id) is None:
        raise ApiError(400, CODE_IMAGE_NOT_FOUND, f"The image {image_id!r} does not exist")
    return image_id
