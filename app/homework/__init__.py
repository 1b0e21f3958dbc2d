"""Homework: tasks (encrypted content + schedule), ticks, progress."""
