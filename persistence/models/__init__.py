"""Every table MoveHub owns; importing this module registers them all on Base.metadata."""

# Declares migration 0015's analytics indexes on the bookings tables (importing them itself).
from persistence.models import analytics as _analytics_indexes  # noqa: F401
from persistence.models.base import Base
from persistence.models.bookings import Booking, BookingAssignment, BookingStatusHistory
from persistence.models.documents import Document
from persistence.models.fleet import Driver, Truck
from persistence.models.invoices import (
    Invoice,
    InvoiceCounter,
    InvoiceLineItem,
    InvoiceOnlinePayment,
    InvoicePayment,
)
from persistence.models.notifications import NotificationDelivery
from persistence.models.organizations import Organization
from persistence.models.outbox import OutboxEvent
from persistence.models.payments import Payment, PaymentEvent, Refund
from persistence.models.positions import DriverBreadcrumb, DriverPosition
from persistence.models.ratings import DriverRatingStats, OrganizationRatingStats, Rating
from persistence.models.support import SupportComment, SupportTicket
from persistence.models.users import OtpCode, RefreshToken, User
from persistence.models.verification import VerificationSubmission

__all__ = [
    "Base",
    "Booking",
    "BookingAssignment",
    "BookingStatusHistory",
    "Document",
    "Driver",
    "DriverBreadcrumb",
    "DriverPosition",
    "DriverRatingStats",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLineItem",
    "InvoiceOnlinePayment",
    "InvoicePayment",
    "NotificationDelivery",
    "Organization",
    "OrganizationRatingStats",
    "OtpCode",
    "OutboxEvent",
    "Payment",
    "PaymentEvent",
    "Rating",
    "RefreshToken",
    "Refund",
    "SupportComment",
    "SupportTicket",
    "Truck",
    "User",
    "VerificationSubmission",
]
