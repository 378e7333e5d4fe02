"""Document queries: the caller's live (not deleted) documents, one or a filtered list."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from persistence.models import Document
from persistence.repositories.base import Repository

DELETED = "deleted"


class DocumentRepository(Repository[Document]):
    model = Document

    async def get_live(self, document_id: uuid.UUID, *, lock: bool = False) -> Document | None:
        """A visible document that has not been deleted; locked when the caller will change it
        (confirming an upload), so two confirms of one document serialize."""
        statement = select(Document).where(Document.id == document_id, Document.status != DELETED)
        if lock:
            statement = statement.with_for_update()
        document: Document | None = await self.session.scalar(statement)
        return document

    def listing(self, *, purpose: str | None = None, status: str | None = None) -> Select[Any]:
        """Live documents the caller may see (RLS decides whose), newest first."""
        statement = (
            select(Document)
            .where(Document.status != DELETED)
            .order_by(Document.created_at.desc(), Document.id.desc())
        )
        if purpose:
            statement = statement.where(Document.purpose == purpose)
        if status:
            statement = statement.where(Document.status == status)
        return statement

    async def org_of(self, document_id: uuid.UUID) -> uuid.UUID | None:
        """The organization owning a document the caller can see, whatever its status (None if
        hidden, missing or owned by no organization): verification checks a submitted
        document belongs to the subject's organization."""
        org_id: uuid.UUID | None = await self.session.scalar(
            select(Document.org_id).where(Document.id == document_id)
        )
        return org_id
