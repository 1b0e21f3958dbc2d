"""Rows as plain data for the GDPR export (app/core/export.py): every column of a table
but those named in ``omit`` (password and token hashes, which are not the person's data
but the server's means to check it), in a stable order."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def table_rows(
    conn: AsyncConnection,
    table: sa.Table,
    where: sa.ColumnElement[bool],
    *,
    omit: Collection[str] = (),
) -> list[dict[str, Any]]:
    columns = [c for c in table.c if c.name not in omit]
    order = [c for c in table.primary_key.columns if c.name not in omit] or columns[:1]
    query = sa.select(*columns).where(where).order_by(*order)
    return [dict(row) for row in (await conn.execute(query)).mappings().all()]
