"""Pieces every step of the database dump shares: its error, its logger, its URL handling."""

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


class DumpError(Exception):
    """A database dump that cannot go on: missing table, unwritable data, occupied destination."""


def run_logger() -> Logger:
    """Return Prefect's run logger inside a flow or task run, this module's logger elsewhere."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("prefect_rj_iplanrio.dump_db")


def parse_url(source_url: str | URL) -> URL:
    """Parse a SQLAlchemy URL without ever echoing it, since it may hold a password."""
    if isinstance(source_url, URL):
        return source_url
    try:
        return make_url(source_url)
    except (ArgumentError, ValueError):
        # `from None` keeps the parser's message, which may quote the URL, out of the traceback.
        raise ValueError(
            "source_url is not a valid SQLAlchemy URL; write it as "
            "dialect+driver://USER:PASSWORD@HOST:PORT/DATABASE "  # pragma: allowlist secret
            "(its value is not shown because "
            "it may hold a password)."
        ) from None


def render_url(source_url: str | URL) -> str:
    """Return the URL as text with its password replaced by ***, safe for logs and messages."""
    return parse_url(source_url).render_as_string(hide_password=True)
