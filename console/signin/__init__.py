"""Signing in: the login and logout pages, role checks, and failed logins counted per account and address."""
