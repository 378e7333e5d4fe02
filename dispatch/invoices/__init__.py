"""Invoices: gapless per-org numbering, line items and tax, payments, PDF, overdue marking."""
