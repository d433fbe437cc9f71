"""Hostile organization listings FakeStudio can act out, to test how clients cope."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._faults import JsonValue


def _frozen_fields(
    value: Mapping[int, Mapping[str, JsonValue]],
) -> Mapping[int, Mapping[str, JsonValue]]:
    for organization_id, fields in value.items():
        if isinstance(organization_id, bool) or not isinstance(organization_id, int):
            raise ValueError(f"bad_fields keys must be organization ids, got {organization_id!r}")
        for path in fields:
            if not isinstance(path, str) or not all(path.split(".")):
                raise ValueError(f"bad_fields paths must be dotted field names, got {path!r}")
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in value.items()})


@attrs.frozen(kw_only=True)
class ListingQuirks:
    """How FakeStudio's organization listing misbehaves, as broken or hostile servers do.

    Pass one as ``FakeStudio(listing_quirks=...)`` or set ``studio.listing_quirks``; the default
    (all off) is an honest listing. ``organizations_body`` answers with the quirks too.

    Attributes:
        total_extra: Added to every page's ``total`` (1: a total that overstates by one;
            negative: one that understates, as a server counting only some organizations
            would; ``total`` never goes below 0, so ``-len(organizations)`` answers
            ``total: 0``).
        ignore_offset: Answer every page from the start of the listing, whatever ``offset``.
        page_cap: The most organizations a page holds, whatever ``limit`` asks (1: pages of
            one); None for no cap.
        keeps_removing: Answer every page at an offset above 0 from one organization further
            on, as if one more had been removed before it each time (the overlap a careful
            client expects is never there); ``total`` stays, and nothing is really removed.
        duplicate_id: An organization the listing holds twice in a row, as a join gone wrong
            would (``total`` counts both); None for none.
        bad_fields: Per organization id, fields of its record to replace, by dotted path, e.g.
            ``{5: {"entitlementLimits.totalStorage": "abc"}}``: in its listing record, and in
            its organization info answer when that has the field (its data is bad at the
            source).
    """

    total_extra: int = 0
    ignore_offset: bool = False
    page_cap: int | None = None
    keeps_removing: bool = False
    duplicate_id: int | None = None
    bad_fields: Mapping[int, Mapping[str, JsonValue]] = attrs.field(
        factory=dict, converter=_frozen_fields
    )

    def __attrs_post_init__(self) -> None:
        if isinstance(self.total_extra, bool) or not isinstance(self.total_extra, int):
            raise ValueError(f"total_extra must be an int, got {self.total_extra!r}")
        if self.page_cap is not None and (
            isinstance(self.page_cap, bool)
            or not isinstance(self.page_cap, int)
            or self.page_cap < 1
        ):
            raise ValueError(f"page_cap must be an int >= 1 or None, got {self.page_cap!r}")

    def window(self, offset: int, limit: int) -> tuple[int, int]:
        """Return the offset and limit a page is really answered with."""
        if self.ignore_offset:
            offset = 0
        elif self.keeps_removing and offset > 0:
            offset += 1
        return offset, limit if self.page_cap is None else min(limit, self.page_cap)


def replace_fields(record: dict[str, Any], fields: Mapping[str, JsonValue], *, add: bool) -> None:
    """Set ``fields`` (dotted paths) in ``record``; without ``add``, only where its top is."""
    for path, value in fields.items():
        keys = path.split(".")
        if not add and keys[0] not in record:
            continue
        node = record
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = json.loads(json.dumps(value))  # a copy: the quirk stays as it was
