"""User queries for onboarding and staff invites."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, func, select

from persistence.models import Booking, User
from persistence.repositories.base import Repository


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        """The visible user with this email (emails are unique, compared case-insensitively)."""
        statement = select(User).where(func.lower(User.email) == email.lower())
        return (await self.session.scalars(statement)).first()

    async def has_bookings(self, user_id: uuid.UUID) -> bool:
        """Whether the user ever booked a move (such a customer keeps their customer account)."""
        return bool(await self.session.scalar(select(exists().where(Booking.customer_id == user_id))))
