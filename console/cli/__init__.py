"""The command line: the `flask --app wsgi <command>` commands and `serve-all`'s supervisor."""
