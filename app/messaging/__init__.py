"""Threads (= Matrix rooms), their timelines, to-device mailboxes, sync, receipts, attachments."""
