"""Notifications, the pure part: who wants which changes (subscriptions), when a group
of changes is due and what it says (grouping), and the mail itself (render). The shell
that sends and remembers lives in ``agents/notify``."""
