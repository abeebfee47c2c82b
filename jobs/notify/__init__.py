"""Alerts on the database side: notice what syncs found, store notifications, deliver them by e-mail and webhooks."""
