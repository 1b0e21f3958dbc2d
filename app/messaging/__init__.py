"""Threads, end-to-end encrypted envelopes, per-device mailboxes, receipts, attachments."""
