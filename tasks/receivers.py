"""Domain signals -> queued work, always after the database commit.

The workers issue (#6) hangs notifications, scanning and statistics here.
"""
