"""Therapy documents: plans and statements shared end to end, receipts, requests."""
