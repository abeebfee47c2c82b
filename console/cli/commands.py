"""The `flask --app wsgi <command>` commands (docs/operations.md)."""
from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app
from sqlalchemy import select

from console.actions.errors import ActionError
from console.actions.tokens import issue_token, revoke_tokens
from console.audit import trail
from console.extensions import db
from console.models import ROLES, CalendarLink, User


def register_commands(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    for command in (init_db, demo, create_user, create_token, revoke_token, sync, enqueue_sync, worker,
                    scheduler, recompute_scores, prune_runs, serve_all):
        app.cli.add_command(command)


@click.command("init-db")
def init_db():
    """Create or upgrade the schema (idempotent)."""
    from flask_migrate import upgrade
    upgrade()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no property yet.")
def demo(if_empty: bool):
    """Load demo data (idempotent)."""
    from console.demo.data import DEMO_MANAGER, DEMO_PASSWORD, DEMO_USERS, database_is_empty, load_demo
    if if_empty and not database_is_empty():
        click.echo("database not empty: demo data not loaded")
        click.echo(f"demo admin login (if the demo was loaded before): {DEMO_USERS[0][0]} / "
                   f"{DEMO_PASSWORD}")
        click.echo(f"demo manager login (viewer, if the demo was loaded before): {DEMO_MANAGER} / "
                   f"{DEMO_PASSWORD}")
        return
    email, password, created = load_demo()
    click.echo("demo data loaded" if created else "demo data already present")
    click.echo(f"demo admin login: {email} / {password}")
    click.echo(f"demo manager login (viewer): {DEMO_MANAGER} / {password}")


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", help="Prompted for when not given.")
def create_user(email: str, role: str, password: str | None):
    """Create a console user, or update the role and password of an existing one."""
    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
    created = user is None
    if created:
        user = User(email=email)
        db.session.add(user)
    before = None if created else user.role
    user.role = role
    user.set_password(password)
    db.session.flush()
    trail.record("user.created" if created else "user.updated", "user", user.id, None,
                 {"email": email, "role": trail.change(before, role), "password_set": True})
    db.session.commit()
    click.echo(f"{'created' if created else 'updated'} {role} {email}")


@click.command("create-token")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None,
              help="the token stops working after this many days (default: never)")
def create_token(name: str, role: str, expires_in_days: int | None):
    """Create an API token; the token alone is the last line printed (shown once)."""
    try:
        row, clear = issue_token(name, role, expires_in_days)
    except ActionError as err:
        raise click.ClickException(err.message) from None
    until = f", valid until {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
    click.echo(f"token {name!r} ({role}) created{until}; it is shown once:", err=False)
    click.echo(clear)


@click.command("revoke-token")
@click.argument("name")
def revoke_token(name: str):
    """Revoke the API tokens of that name: they answer 401 from now on."""
    try:
        rows = revoke_tokens(name)
    except ActionError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"revoked {len(rows)} token{'s' if len(rows) != 1 else ''} named {name!r}")


def _select_links(link_ids: tuple[int, ...], all_: bool, due: bool) -> list[int]:
    """The link ids a sync command works on; exits with an error for unknown ids."""
    from jobs.tasks import due_link_ids
    if not (link_ids or all_ or due):
        raise click.UsageError("name link ids, or use --all or --due")
    ids: list[int] = []
    if link_ids:
        found = set(db.session.execute(select(CalendarLink.id).where(
            CalendarLink.id.in_(link_ids))).scalars())
        missing = [i for i in link_ids if i not in found]
        if missing:
            raise click.ClickException(f"no such link: {', '.join(map(str, missing))}")
        ids.extend(link_ids)
    if all_:
        ids.extend(db.session.execute(select(CalendarLink.id).filter_by(state="active")
                                      .order_by(CalendarLink.id)).scalars())
    if due:
        ids.extend(due_link_ids())
    return list(dict.fromkeys(ids))


@click.command("sync")
@click.argument("link_ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every active link.")
@click.option("--due", is_flag=True, help="Active links whose time has come.")
def sync(link_ids, all_, due):
    """Sync links now, in this process (no queue); one summary line per link."""
    from jobs.sync.runner import sync_links
    ids = _select_links(link_ids, all_, due)
    if not ids:
        click.echo("nothing to sync")
        return
    counts: dict[str, int] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    show_bar = len(ids) > 20 and sys.stderr.isatty()
    with click.progressbar(length=len(ids), label="syncing", file=sys.stderr,
                           hidden=not show_bar) as bar:
        def done(summary):
            counts[summary.outcome] = counts.get(summary.outcome, 0) + 1
            bar.update(1)
            if not show_bar:
                click.echo(summary.line())
        summaries = sync_links(ids, on_done=done)
    if show_bar:
        for summary in sorted(summaries, key=lambda s: s.link_id):
            click.echo(summary.line())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # CPU per link beside links/s: what lets figures from different machines be compared.
    click.echo(f"synced {len(ids)} links in {elapsed:.2f} s ({len(ids) / elapsed:.0f} links/s, "
               f"cpu {cpu * 1000 / len(ids):.1f} ms/link): "
               + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))


@click.command("enqueue-sync")
@click.argument("link_ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every active link.")
@click.option("--due", is_flag=True, help="Active links whose time has come.")
def enqueue_sync(link_ids, all_, due):
    """Put sync jobs on the queue."""
    from jobs.queue import QueueUnavailable, enqueue_link_sync
    from jobs.tasks import enqueue_batches
    ids = _select_links(link_ids, all_, due)
    try:
        for link_id in link_ids:
            click.echo(f"link {link_id}: job {enqueue_link_sync(link_id)}")
        rest = [i for i in ids if i not in set(link_ids)]
        for count, job_id in enqueue_batches(rest):
            click.echo(f"{count} links: job {job_id}")
    except QueueUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(burst: bool):
    """Run an RQ worker with the app context."""
    from jobs.worker import run_worker
    run_worker(current_app._get_current_object(), burst=burst)


@click.command("scheduler")
def scheduler():
    """Run the periodic scheduler (due syncs, risk, scores, pruning; sweeps lost syncs itself)."""
    from jobs.worker import run_scheduler
    run_scheduler(current_app._get_current_object())


@click.command("recompute-scores")
def recompute_scores():
    """Recompute every property's risk and reward score now."""
    from jobs.sync.property_state import recompute_all
    click.echo(f"recomputed {recompute_all(scores=True)} properties")


@click.command("prune-runs")
def prune_runs():
    """Delete sync runs older than SYNC_RUN_RETENTION_DAYS."""
    from jobs.tasks import prune_runs_job
    click.echo(f"pruned {prune_runs_job()} sync runs")


@click.command("serve-all")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_all(host: str, port: int):
    """Run web, worker and scheduler together (what `make run` starts); Ctrl-C stops all."""
    from console.cli.supervisor import supervise
    sys.exit(supervise(current_app._get_current_object(), host, port))
