"""The wire base every domain's schemas build on: camelCase JSON Structs that refuse
unknown fields, and the bounded text types more than one domain stores."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class Camel(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """A request or answer body: camelCase on the wire, unknown fields refused."""


# Text the server stores is printable: PostgreSQL cannot store NUL, and control
# characters in a name only ever serve to confuse a reader.
DisplayName = Annotated[
    str, Meta(min_length=1, max_length=100, pattern=r"^(?=.*\S)[^\x00-\x1f\x7f]+$")
]
