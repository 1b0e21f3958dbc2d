"""Therapy sessions: appointments (single or group), weekly series, cancellations as
acknowledged notices, and the sessions used of a therapy period."""
