"""Notifications: domain events -> live WebSocket events (app/realtime), Web Push and an
outbox for e-mail/SMS gateways, per-user preferences, quiet hours for children's devices,
reminders sent once, and the iCalendar feed. Texts in Finnish, Swedish and English.

Nothing here carries content: a push payload is ``{type, ids}``, an e-mail or SMS says
"a session was cancelled, open the app", a feed entry says "Therapy session" and a place
kind. See docs/notifications.md.
"""
