"""The demo: its properties, links and users, and the feeds its links read from the app itself."""
