"""The commands: argument parsing, exit codes and error messages.

click parses and reports usage errors (exit 2) and rich draws tables and the progress bar; both
are well kept and would be hundreds of lines to do by hand. Exit codes:

* 0 success;
* 1 an API or network failure, or a report where some requests failed or were not attempted,
  or a listing of the white label that ended early or has organizations it could not read;
* 2 a usage or configuration error (bad option, bad period, bad ``EI_BASE_URL``);
* 3 authentication or permission: no credential in the environment, 401 or 403;
* 4 ``check``: some inner organization at or over ``--warn-at`` of an entitlement;
* 5 ``check``: some inner organization at or over ``--fail-at``;
* 130 interrupted (Ctrl-C): a report prints what it fetched, marked partial;
* 141 the output pipe closed early (``| head``), whatever the format.

Expected failures print one line on stderr, never a traceback, and never a credential. Text
that may come from a server (error messages, names, stop reasons) is printed through
:mod:`ei_usage.cli._safe`, so it cannot carry terminal escapes or rich markup.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import click

import ei_usage
from ei_usage import (
    APIConnectionError,
    AuthenticationError,
    Client,
    DateRange,
    EdgeImpulseError,
    IncompleteListingWarning,
    PermissionDeniedError,
    ReportInterrupted,
    Unit,
)

from . import _render, _safe, _store

if TYPE_CHECKING:
    from collections.abc import Callable

    from ei_usage import EntitlementReport, OrganizationListing, Report


EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
_DEFAULT_BASE_URL = Client("-").base_url

UNITS_HELP = (
    "Units: the API reports CPU and GPU compute time in seconds and totals in minutes; "
    "ei-usage converts all of them exactly to the unit chosen with --unit, and every output "
    "says which unit it shows."
)
CREDENTIALS_HELP = (
    "Credentials come only from the environment: EI_API_KEY (or EI_JWT_TOKEN or "
    "EI_ACCESS_TOKEN), and EI_BASE_URL for a white-label studio (its API root, e.g. "
    "https://studio.example.com/v1; /v1 is added when the URL has no path). They are never "
    "printed."
)
PERIOD_HELP = (
    "2024, 2024-Q2, 2024-05, 2024-05-17, or A..B from the start of A to the end of B, where A "
    "and B are any of those or ISO datetimes (2024-05-01T12:00Z..2024-05-02T00:00Z). UTC."
)
EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0    success\n"
    "  1    API or network failure, or some requests of a report failed or were not attempted\n"
    "  2    usage or configuration error (bad option, period or EI_BASE_URL)\n"
    "  3    no credential, or authentication or permission refused\n"
    "  4    check: some inner organization at or over --warn-at\n"
    "  5    check: some inner organization at or over --fail-at\n"
    "  130  interrupted (Ctrl-C); a report prints what it fetched, marked PARTIAL\n"
    "  141  the output pipe closed early (| head)"
)
COMPLETION_HELP = (
    "\b\nShell completion (add the line to your shell's startup file):\n"
    '  bash: eval "$(_EI_USAGE_COMPLETE=bash_source ei-usage)"\n'
    '  zsh:  eval "$(_EI_USAGE_COMPLETE=zsh_source ei-usage)"\n'
    "  fish: _EI_USAGE_COMPLETE=fish_source ei-usage | source"
)
ORG_ENV_HELP = (
    "--org can come from EI_ORG_ID (the demo's variable); an --org given on the command line "
    "wins over it."
)
INSECURE_HINT = "use --allow-insecure-http (or EI_ALLOW_INSECURE_HTTP=1)"
_UNITS = [u.value for u in Unit]
_FORMATS = ["table", "csv", "json"]
_REPORT_FORMATS = [*_FORMATS, "html"]
_EVERY = ["day", "week", "month", "quarter", "year"]


class CommandError(click.ClickException):
    """An expected failure: one line on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        """Print the one-line message (click's hook)."""
        click.echo(f"ei-usage: error: {_safe.terminal(self.format_message())}", err=True)


class AuthCommandError(CommandError):
    """No credential, or the API refused it: exit status 3."""

    exit_code = EXIT_AUTH


def _exit_code(error: EdgeImpulseError) -> int:
    return EXIT_AUTH if isinstance(error, AuthenticationError | PermissionDeniedError) else 1


def _fail(error: EdgeImpulseError) -> NoReturn:
    cls = AuthCommandError if _exit_code(error) == EXIT_AUTH else CommandError
    raise cls(str(error)) from None


class ConfigCommandError(CommandError):
    """The environment's configuration is unusable (e.g. a bad EI_BASE_URL): exit status 2."""

    exit_code = EXIT_USAGE


def _client(allow_insecure_http: bool) -> Client:
    # The credential is checked on its own first (against the default base URL), so that a
    # missing or unusable credential (exit 3) is told apart from a bad EI_BASE_URL (exit 2).
    # Messages name the variables, never their values.
    try:
        Client.from_env(base_url=_DEFAULT_BASE_URL)
    except ValueError as error:
        raise AuthCommandError(f"{error}. {CREDENTIALS_HELP}") from None
    try:
        return Client.from_env(allow_insecure_http=allow_insecure_http)
    except ValueError as error:
        # The library names its own keyword argument; a CLI user has a flag and a variable.
        message = str(error).replace("pass allow_insecure_http=True", INSECURE_HINT)
        raise ConfigCommandError(f"EI_BASE_URL: {message}") from None


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a record arrives."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().removeprefix("ei_usage: ")
        sys.stderr.write(f"ei-usage: {_safe.terminal(message)}\n")


def _setup_logging(verbose: bool) -> None:
    """Send the library's log (retries, each request's timing) to stderr with --verbose.

    ``--verbose`` counts before the subcommand (``ei-usage --verbose check``) as well as after
    it. The library's records never hold a credential (ei_usage scrubs what it logs), so
    --verbose is safe to paste into a ticket.
    """
    context = click.get_current_context(silent=True)
    if context is not None:
        verbose = verbose or bool(context.find_root().params.get("verbose"))
    logger = logging.getLogger("ei_usage")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    if verbose:
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)


def _period(ctx: click.Context, param: click.Parameter, value: str) -> DateRange:
    try:
        return DateRange.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _cut_short(reason: str | None, listed: int) -> None:
    """Say on stderr, in one line, that the white label's listing ended early."""
    if reason is not None:
        click.echo(
            f"ei-usage: the listing of the inner organizations was {_safe.terminal(reason)}; "
            f"showing the {listed:,} listed",
            err=True,
        )


_SHOWN_NOT_READ = 20


def _not_read(listing: OrganizationListing) -> None:
    """List on stderr the organizations whose listing record could not be read."""
    if not listing.errors:
        return
    count = len(listing.errors)
    click.echo(f"ei-usage: {count:,} organization{'s' * (count > 1)} not read:", err=True)
    for failure in listing.errors[:_SHOWN_NOT_READ]:
        which = failure.inner_organization_id
        click.echo(f"  inner org {which}: {_safe.terminal(failure.error.message)}", err=True)
    if count > _SHOWN_NOT_READ:
        click.echo(f"  and {count - _SHOWN_NOT_READ:,} more", err=True)


def _read_ids(stream: TextIO) -> list[int]:
    ids = []
    try:
        for number, raw in enumerate(stream, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            for token in line.replace(",", " ").split():
                # isdigit() alone accepts "²", which int() refuses.
                if not (token.isascii() and token.isdigit()):
                    raise click.BadParameter(
                        f"line {number}: {token!r} is not an organization id",
                        param_hint="--inner-orgs-file",
                    )
                ids.append(int(token))
    except UnicodeDecodeError as error:
        # Decoding runs ahead of the lines, so no line number: say what could not be read.
        raise click.BadParameter(
            f"not readable text: {error}", param_hint="--inner-orgs-file"
        ) from None
    return ids


_VERBOSE_HELP = "Log retries and each request's status and timing on stderr (never credentials)."


def _output_options(
    formats: list[str],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add the options every command shares: --unit, --format, and the connection options."""
    return lambda command: _add_output_options(command, formats)


def _add_output_options(command: Callable[..., None], formats: list[str]) -> Callable[..., None]:
    command = click.option(
        "--verbose",
        is_flag=True,
        help=_VERBOSE_HELP,
    )(command)
    command = click.option(
        "--allow-insecure-http",
        is_flag=True,
        envvar="EI_ALLOW_INSECURE_HTTP",
        help="Allow a plain http:// EI_BASE_URL to a host other than loopback (test setups only: "
        "the credential travels unencrypted). Also EI_ALLOW_INSECURE_HTTP=1.",
    )(command)
    return _format_options(formats)(command)


def _format_options(
    formats: list[str], html_help: str = "html: one self-contained file with charts."
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--format`` and ``--unit``: what every command that prints results takes."""

    def add(command: Callable[..., None]) -> Callable[..., None]:
        command = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default="table",
            show_default=True,
            help=html_help if "html" in formats else None,
        )(command)
        return click.option(
            "--unit",
            type=click.Choice(_UNITS),
            default="minutes",
            show_default=True,
            help="Unit of every duration shown.",
        )(command)

    return add


def _org_option(what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The ``--org`` option (or ``EI_ORG_ID``, the demo's variable): ``what`` it names."""
    return click.option(
        "--org",
        "organization_id",
        type=click.IntRange(min=0),
        required=True,
        envvar="EI_ORG_ID",
        show_envvar=True,
        help=f"{what} (the option wins over EI_ORG_ID).",
    )


_ORG_OPTION = _org_option("The white-label organization you administer")


def _db_option(help_text: str = _store.DB_HELP) -> Callable[[Callable[..., None]], Any]:
    """``--db PATH|URL`` (also ``EI_USAGE_DB``): the history store a command reads or writes."""
    return click.option(
        "--db", metavar="PATH|URL", envvar="EI_USAGE_DB", show_envvar=True, help=help_text
    )


def _level_option(flag: str, default: float, help_text: str) -> Callable[..., Any]:
    """``--warn-at``/``--fail-at PERCENT``: a share of an entitlement, above zero."""
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        metavar="PERCENT",
        help=help_text,
    )


_DB_OPTION = _db_option()
_CONCURRENCY_OPTION = click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)


@click.group(
    help=(
        f"Read Edge Impulse organization usage.\n\n{UNITS_HELP}\n\n{CREDENTIALS_HELP} "
        f"{ORG_ENV_HELP}"
    ),
    epilog=f"{EXIT_CODES_HELP}\n\n{COMPLETION_HELP}",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(ei_usage.__version__, prog_name="ei-usage")
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP + " Also after the command.")
def cli(verbose: bool) -> None:
    """Read Edge Impulse organization usage."""


@cli.command(
    "compute-time",
    help=(
        "Compute time used by inner organizations of a white label, per period.\n\n"
        "One request per inner organization and calendar piece of --period (split by --every); "
        "a table of every piece with totals per organization and overall, named after the "
        "white label's listing. If some requests fail, what succeeded is still shown, the "
        "failures are listed on stderr (a line per cause) and the exit code is 1.\n\n"
        f"{UNITS_HELP}\n\n{CREDENTIALS_HELP}"
    ),
)
@_ORG_OPTION
@click.option(
    "--inner-org",
    "inner_orgs",
    type=click.IntRange(min=0),
    multiple=True,
    help="An inner organization (repeat for more).",
)
@click.option(
    "--inner-orgs-file",
    type=click.File("r"),
    help="A file of inner organization ids, one per line ('#' comments, - for stdin).",
)
@click.option(
    "--all-inner-orgs",
    is_flag=True,
    help="Every inner organization of the white label, deleted ones included (they used compute "
    "time before they were deleted).",
)
@click.option(
    "--period",
    required=True,
    callback=_period,
    metavar="TEXT",
    help=PERIOD_HELP,
)
@click.option(
    "--every",
    type=click.Choice(_EVERY),
    default="month",
    show_default=True,
    help="Calendar unit of each row.",
)
@_output_options(_REPORT_FORMATS)
@_CONCURRENCY_OPTION
def compute_time(
    organization_id: int,
    inner_orgs: tuple[int, ...],
    inner_orgs_file: TextIO | None,
    all_inner_orgs: bool,
    period: DateRange,
    every: str,
    unit: str,
    fmt: str,
    concurrency: int,
    allow_insecure_http: bool,
    verbose: bool,
) -> None:
    """Compute time used by inner organizations of a white label, per period."""
    ids = list(inner_orgs) + (_read_ids(inner_orgs_file) if inner_orgs_file else [])
    if all_inner_orgs and ids:
        raise click.UsageError("give --all-inner-orgs or inner organizations, not both")
    if not ids and not all_inner_orgs:
        raise click.UsageError(
            "give at least one --inner-org, an --inner-orgs-file, or --all-inner-orgs"
        )
    _setup_logging(verbose)
    interrupted = False
    with (
        _client(allow_insecure_http) as client,
        _render.progress(client.rate_stats) as on_progress,
    ):

        def run(with_names: bool) -> Report:
            return client.compute_time_report(
                organization_id,
                "all" if all_inner_orgs else ids,
                period,
                every=every,  # type: ignore[arg-type]
                concurrency=concurrency,
                on_progress=on_progress,
                with_names=with_names,
            )

        try:
            try:
                report = run(with_names=True)
            except EdgeImpulseError as error:
                # Listing the white label (for names, or for --all-inner-orgs) failed. Without a
                # server to talk to, or a credential it accepts, the report would fail too.
                if (
                    all_inner_orgs
                    or _exit_code(error) == EXIT_AUTH
                    or isinstance(error, APIConnectionError)
                ):
                    _fail(error)
                click.echo(
                    f"ei-usage: names not shown, listing failed: {_safe.terminal(error)}", err=True
                )
                report = run(with_names=False)
        except ReportInterrupted as stopped:
            report, interrupted = cast("Report", stopped.report), True
        except ValueError as error:  # e.g. a piece of the period shorter than the wire's ms
            raise click.BadParameter(str(error), param_hint="--period") from None
    listed = len(report.inner_organization_ids)
    if interrupted:
        # What was fetched is printed, marked partial; then the conventional status of SIGINT.
        with _render.writing():
            _render.report(report, Unit(unit), fmt, sys.stdout)
        _render.failures(report, sys.stderr)
        _cut_short(report.listing_stop_reason, listed)
        sys.exit(EXIT_INTERRUPTED)
    refused = [f for f in report.errors if _exit_code(f.error) == EXIT_AUTH]
    if refused and not report.rows and len(refused) == len(report.errors):
        # Every request was refused (wrong key, organization not administered): one line, and
        # no table claiming zero usage.
        _fail(refused[0].error)
    if report.rows or fmt != "table":  # a table of nothing would show totals of zero
        with _render.writing():
            _render.report(report, Unit(unit), fmt, sys.stdout)
    if not report.ok:
        _render.failures(report, sys.stderr)
        _cut_short(report.listing_stop_reason, listed)
        sys.exit(EXIT_FAILURE)


@cli.command(
    "orgs",
    help=(
        "The inner organizations of a white label: id, name, created, billable and "
        "entitlements (compute per year in --unit; storage in bytes; no value: unlimited).\n\n"
        f"{CREDENTIALS_HELP}"
    ),
)
@_ORG_OPTION
@click.option(
    "--include-deleted",
    is_flag=True,
    help="List deleted organizations too, marked deleted (costs a second listing).",
)
@click.option("--search", metavar="TEXT", help="Only organizations matching TEXT (id or name).")
@click.option(
    "--active-within-days",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only organizations active in the last N days.",
)
@_output_options(_FORMATS)
def orgs(
    organization_id: int,
    include_deleted: bool,
    search: str | None,
    active_within_days: int | None,
    unit: str,
    fmt: str,
    allow_insecure_http: bool,
    verbose: bool,
) -> None:
    """The inner organizations of a white label."""
    _setup_logging(verbose)
    with _client(allow_insecure_http) as client:
        try:
            listing = client.inner_organizations(
                organization_id,
                include_deleted=include_deleted,
                active_within_days=active_within_days,
                search=search,
            )
            with warnings.catch_warnings():
                # Said below, on stderr and in the output, in the command line's own words.
                warnings.simplefilter("ignore", IncompleteListingWarning)
                listed = list(listing)
        except EdgeImpulseError as error:
            _fail(error)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--search") from None
    with _render.writing():
        _render.organizations(organization_id, listed, Unit(unit), fmt, sys.stdout, listing)
    _not_read(listing)
    _cut_short(listing.stop_reason, len(listed))
    if not listing.ok:  # a partial listing, like a report with failed rows
        sys.exit(EXIT_FAILURE)


EXIT_WARN = 4
EXIT_OVER = 5


@cli.command(
    "check",
    help=(
        "Each inner organization's use of its running contract against its entitlements "
        "(compute = CPU + GPU against compute per year, GPU, storage), most used first, with a "
        "bar per organization.\n\n"
        "Exit codes, for cron and CI alerting: 0 every organization under --warn-at; 4 some at "
        "or over --warn-at; 5 some at or over --fail-at (whatever else); 1 none over, but some "
        "could not be read. An organization counts by the highest fraction of any of its "
        "entitlements; one without limits never alerts.\n\n"
        f"{UNITS_HELP}\n\n{CREDENTIALS_HELP}"
    ),
)
@_ORG_OPTION
@_level_option("--warn-at", 80.0, "Warn (exit 4) from this much of an entitlement used.")
@_level_option("--fail-at", 100.0, "Fail (exit 5) from this much of an entitlement used.")
@_output_options(_REPORT_FORMATS)
@_CONCURRENCY_OPTION
@click.option(
    "--forecast",
    "with_forecast",
    is_flag=True,
    help="Add each organization's projected use at its contract's end and the dates it "
    "crosses --warn-at and --fail-at, from the history store (--db); exit codes stay those of "
    "today's use.",
)
@_db_option("The history store --forecast reads (default: in your user data directory).")
def check(
    organization_id: int,
    warn_at: float,
    fail_at: float,
    unit: str,
    fmt: str,
    allow_insecure_http: bool,
    verbose: bool,
    concurrency: int,
    with_forecast: bool = False,
    db: str | None = None,
) -> None:
    """Inner organizations' contract usage against their entitlements."""
    if warn_at > fail_at:
        raise click.BadParameter(
            f"--warn-at ({warn_at:g}) must not be above --fail-at ({fail_at:g})",
            param_hint="--warn-at",
        )
    store = _forecast_store(db) if with_forecast else None  # fail before any request
    _setup_logging(verbose)
    interrupted = False
    with (
        _client(allow_insecure_http) as client,
        _render.progress(client.rate_stats) as on_progress,
    ):
        try:
            report = client.entitlement_report(
                organization_id, "all", concurrency=concurrency, on_progress=on_progress
            )
        except ReportInterrupted as stopped:
            report, interrupted = cast("EntitlementReport", stopped.report), True
        except EdgeImpulseError as error:  # the listing failed
            _fail(error)
    thresholds = (warn_at / 100, fail_at / 100)
    if store is not None:
        from . import _forecast

        with contextlib.closing(store):
            try:
                forecasts = _forecast.forecasts(
                    store,
                    organization_id,
                    warn_at=thresholds[0],
                    fail_at=thresholds[1],
                    usages={u.inner_organization_id: u for u in report.rows},
                )
            except _forecast.store_errors() as error:
                raise CommandError(str(error)) from None
        with _render.writing():
            _forecast.check_output(report, forecasts, Unit(unit), fmt, sys.stdout, *thresholds)
    else:
        with _render.writing():
            _render.entitlements(report, Unit(unit), fmt, sys.stdout, *thresholds)
    _render.check_failures(report, sys.stderr)
    _cut_short(
        report.listing_stop_reason,
        len(report.rows) + len(report.errors) + len(report.not_attempted),
    )
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    over, warned = report.at_or_over(thresholds[1]), report.at_or_over(thresholds[0])
    if over or warned:
        # A cron mail or CI log often shows only stderr: say why the status is not 0.
        of = f"of {len(report.rows):,} inner organizations at or over"
        warn_level, fail_level = f"--warn-at ({warn_at:g}%)", f"--fail-at ({fail_at:g}%)"
        if over:
            line = f"check failed (exit 5): {len(over):,} {of} {fail_level}"
            if len(warned) > len(over):
                line += f", {len(warned) - len(over):,} more at or over {warn_level}"
        else:
            line = f"check warning (exit 4): {len(warned):,} {of} {warn_level}"
        click.echo(f"ei-usage: {line}", err=True)
    if over:
        sys.exit(EXIT_OVER)
    if warned:
        sys.exit(EXIT_WARN)
    if not report.ok:
        sys.exit(EXIT_FAILURE)


@cli.command(
    "metrics",
    help=(
        "General metrics of an organization: compute time (total, current contract), storage, "
        "projects and users.\n\n"
        "The API gives compute totals in minutes and the current contract's CPU/GPU time "
        "without a unit (read as seconds, the unit the spec states for the matching "
        "entitlement limits); storage is in bytes.\n\n"
        f"{UNITS_HELP}\n\n{CREDENTIALS_HELP}"
    ),
)
@_org_option("The organization")
@click.option(
    "--exclude-edge-impulse-users",
    is_flag=True,
    default=None,
    help="Leave Edge Impulse staff out of the user count.",
)
@click.option(
    "--project-visibility",
    type=click.Choice(["public", "private"]),
    help="Count only public or private projects.",
)
@_output_options(_FORMATS)
def metrics(
    organization_id: int,
    exclude_edge_impulse_users: bool | None,
    project_visibility: str | None,
    unit: str,
    fmt: str,
    allow_insecure_http: bool,
    verbose: bool,
) -> None:
    """General metrics of an organization."""
    _setup_logging(verbose)
    with _client(allow_insecure_http) as client:
        try:
            result = client.metrics(
                organization_id,
                exclude_edge_impulse_users=exclude_edge_impulse_users,
                project_visibility=project_visibility,  # type: ignore[arg-type]
            )
        except EdgeImpulseError as error:
            _fail(error)
    with _render.writing():
        _render.metrics(result, Unit(unit), fmt, sys.stdout)


def _forecast_store(db: str | None) -> Any:
    """Open the history store for a forecast (``ei_usage.store``, imported only here)."""
    from . import _forecast

    try:
        return _forecast.open_store(db)
    except _store.StoreUnavailableError as error:
        raise _store_error(error) from None


@cli.command(
    "forecast",
    help=(
        "Forecast each inner organization with a compute or GPU limit to its contract's end, "
        "from the history store alone (no network; fill it with `ei-usage sync`): projected "
        "use at the end with a range, and the dates it crosses --warn-at and --fail-at "
        "(with a range; '-' when not before the contract ends).\n\n"
        "The model: the trailing rate of the last three full months (the latest weighted "
        "most), a damped trend from the last six, a yearly pattern once it predicts better, "
        "contract snapshots for the running month; the range from the spread of recent months "
        "(see the README, Forecasts). Exit 0 whatever the forecast says."
    ),
)
@_ORG_OPTION
@_level_option("--warn-at", 80.0, "The warning level whose crossing date is forecast.")
@_level_option("--fail-at", 100.0, "The failing level whose crossing date is forecast.")
@_DB_OPTION
@_format_options(_REPORT_FORMATS, "html: one self-contained file, a chart per organization.")
def forecast_command(
    organization_id: int, warn_at: float, fail_at: float, db: str | None, fmt: str, unit: str
) -> None:
    """Forecast contract usage from the history store."""
    if warn_at > fail_at:
        raise click.BadParameter(
            f"--warn-at ({warn_at:g}) must not be above --fail-at ({fail_at:g})",
            param_hint="--warn-at",
        )
    from . import _forecast

    store = _forecast_store(db)
    with contextlib.closing(store):
        try:
            latest = store.latest_contracts(organization_id)
            forecasts = _forecast.forecasts(
                store, organization_id, warn_at=warn_at / 100, fail_at=fail_at / 100
            )
        except _forecast.store_errors() as error:
            raise CommandError(str(error)) from None
    if not latest:
        click.echo(
            f"ei-usage: no contract usage of organization {organization_id} in the store: run "
            f"`ei-usage sync --org {organization_id} --since ...` first",
            err=True,
        )
    without = sorted(inner for inner, usage in latest.items() if not _forecast.has_limit(usage))
    with _render.writing():
        _forecast.render(
            organization_id,
            forecasts,
            Unit(unit),
            fmt,
            sys.stdout,
            warn_at=warn_at / 100,
            fail_at=fail_at / 100,
            without_limit=without,
        )


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Parse ``90s``, ``15m``, ``1h`` or ``1d`` (a bare number is seconds) into seconds."""
    text = value.strip().lower()
    scale = _DURATION_UNITS.get(text[-1:])
    number = text[:-1] if scale is not None else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 10**9:  # also refuses NaN and inf
        raise click.BadParameter(f"{value!r} is not a duration such as 30s, 15m, 1h or 1d")
    return seconds


def _human_duration(seconds: float) -> str:
    """Say a duration as ``--refresh`` takes it (``15m``, ``1h``, ``90s``)."""
    for suffix, scale in sorted(_DURATION_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= scale and (seconds / scale).is_integer():
            return f"{seconds / scale:g}{suffix}"
    return f"{seconds:g}s"


def _listen(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[::1]:9877`` for IPv6) into a host and a port."""
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9877)")
    return host, int(port)


@cli.command(
    "exporter",
    help=(
        "Serve the white label's usage as Prometheus metrics on http://HOST:PORT/metrics.\n\n"
        "It refreshes on its own schedule (--refresh): each refresh lists the inner "
        "organizations once, reads each one's contract usage once and its running month's "
        "compute time once, through the client's rate limit. Scrapes are answered from memory "
        "and cost no API request. When the API cannot be reached the last values stay served, "
        "and ei_usage_exporter_failing_since_timestamp_seconds says since when. Organizations "
        "no complete listing names for --forget-after (deleted ones) drop out.\n\n"
        "Binds 127.0.0.1 unless --listen says otherwise. Stops on SIGTERM or Ctrl-C. "
        f"{CREDENTIALS_HELP}"
    ),
)
@_ORG_OPTION
@click.option(
    "--listen",
    default="127.0.0.1:9877",
    show_default=True,
    callback=_listen,
    metavar="HOST:PORT",
    help="Where to serve /metrics (0.0.0.0:9877 for every interface).",
)
@click.option(
    "--refresh",
    "refresh_seconds",
    default="15m",
    show_default=True,
    callback=_duration,
    metavar="DURATION",
    help="Time between the starts of two refreshes (30s, 15m, 1h).",
)
@click.option(
    "--forget-after",
    "forget_seconds",
    default="1h",
    show_default=True,
    callback=_duration,
    metavar="DURATION",
    help="Drop an organization no complete listing has named for this long.",
)
@click.option(
    "--db",
    default=None,
    metavar="PATH|URL",
    help="Also write each refresh into this history store (a SQLite file or a "
    "postgresql:// URL; needs the 'store' extra).",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    envvar="EI_ALLOW_INSECURE_HTTP",
    help="Allow a plain http:// EI_BASE_URL to a host other than loopback (test setups only).",
)
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP)
@_CONCURRENCY_OPTION
def exporter(
    organization_id: int,
    listen: tuple[str, int],
    refresh_seconds: float,
    forget_seconds: float,
    db: str | None,
    allow_insecure_http: bool,
    verbose: bool,
    concurrency: int,
) -> None:
    """Serve usage as Prometheus metrics."""
    import signal
    from datetime import timedelta

    from ei_usage import exporter as _exporter  # prometheus-client: only for this command

    _setup_logging(verbose)
    if not verbose:
        # Refresh failures and where it serves are worth a line on stderr (the journal).
        log = logging.getLogger("ei_usage.exporter")
        if not any(isinstance(h, _StderrHandler) for h in log.handlers):
            log.addHandler(_StderrHandler())
        log.setLevel(logging.INFO)
    _client(allow_insecure_http).close()  # the checks and messages of every command
    client = _exporter.ExporterClient.from_env(allow_insecure_http=allow_insecure_http)
    store: Any = None
    if db is not None:
        try:
            store = _store.open_store(db, create=True, purpose="--db needs")
        except _store.StoreUnavailableError as error:
            # The store's own error names the file or URL, without a password.
            raise ConfigCommandError(
                f"--db: {error}" if not error.missing else str(error)
            ) from None
    served = _exporter.Exporter(
        client,
        organization_id,
        refresh_every=timedelta(seconds=refresh_seconds),
        forget_after=timedelta(seconds=forget_seconds),
        sink=store,
        concurrency=concurrency,
    )

    terminated = []

    def terminate(signum: int, frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt  # stops a refresh in flight as Ctrl-C does

    previous = signal.signal(signal.SIGTERM, terminate)
    log = logging.getLogger("ei_usage.exporter")
    interrupted = False
    try:
        try:
            host, port = served.serve(*listen)
        except OSError as error:
            raise CommandError(
                f"cannot listen on {listen[0]}:{listen[1]}: {error.strerror}"
            ) from None
        shown = f"[{host}]" if ":" in host else host
        log.info(
            "ei_usage: exporter: serving http://%s:%d/metrics, refreshing every %s",
            shown,
            port,
            _human_duration(refresh_seconds),
        )
        try:
            served.run()
        except KeyboardInterrupt:
            interrupted = True
            log.info("ei_usage: exporter: stopped")
    finally:
        served.stop(wait=False)  # the process exits right after
        client.close()
        if store is not None:
            store.close()
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        # Everything is closed: leave now rather than spend a few hundred milliseconds tearing
        # down the interpreter, so that a service manager's stop is done within a second.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if terminated else EXIT_INTERRUPTED)


# ---- the history store: sync and history ---------------------------------------------------
# The store (SQLAlchemy, Alembic) is imported inside these commands only: the other commands,
# and `ei-usage --help`, never pay for it, and work without the store extra.


def _store_error(error: _store.StoreUnavailableError) -> CommandError:
    """A missing extra is a setup error (exit 2); a store that cannot be opened, exit 1."""
    return ConfigCommandError(str(error)) if error.missing else CommandError(str(error))


def _store_module() -> Any:
    try:
        return _store.store_module()
    except _store.StoreUnavailableError as error:
        raise _store_error(error) from None


def _open_store(db: str | None, *, create: bool, settle_days: int | None = None) -> Any:
    from datetime import timedelta

    settle = None if settle_days is None else timedelta(days=settle_days)
    try:
        return _store.open_store(db, create=create, settle=settle)
    except _store.StoreUnavailableError as error:
        raise _store_error(error) from None


@cli.command(
    "sync",
    help=(
        "Fetch usage into the history store: the white label's organizations (deleted ones "
        "too), a snapshot of each one's contract usage, and compute time per organization and "
        "--every period from --since on.\n\n"
        "A period is closed once it ended more than --settle-days ago; a closed period already "
        "in the store is never fetched again (unless --refresh), and the running one is fetched "
        "on each sync. Rows are saved as they arrive, so an interrupted sync (Ctrl-C, a killed "
        "process) continues where it stopped when run again. Exit codes as for compute-time.\n\n"
        f"{CREDENTIALS_HELP}"
    ),
)
@_ORG_OPTION
@click.option(
    "--since",
    required=True,
    callback=_period,
    metavar="PERIOD",
    help="The first period to sync: 2024, 2024-01, 2024-01-15 (UTC).",
)
@click.option(
    "--until",
    callback=lambda c, p, v: None if v is None else _period(c, p, v),
    metavar="PERIOD",
    help="The last period to sync (default: the running one).",
)
@click.option(
    "--every",
    type=click.Choice(["month", "day"]),
    default="month",
    show_default=True,
    help="Calendar unit of the compute-time facts.",
)
@_DB_OPTION
@click.option(
    "--refresh",
    is_flag=True,
    help="Fetch closed periods again; changed numbers are kept and logged.",
)
@click.option(
    "--settle-days",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    metavar="N",
    help="A period is closed N days after it ended (usage arrives late).",
)
@_CONCURRENCY_OPTION
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    envvar="EI_ALLOW_INSECURE_HTTP",
    help="Allow a plain http:// EI_BASE_URL to a host other than loopback.",
)
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP)
def sync_command(
    organization_id: int,
    since: DateRange,
    until: DateRange | None,
    every: str,
    db: str | None,
    refresh: bool,
    settle_days: int,
    concurrency: int,
    allow_insecure_http: bool,
    verbose: bool,
) -> None:
    """Fetch usage into the history store."""
    _setup_logging(verbose)
    store_module = _store_module()
    from datetime import UTC, datetime, timedelta

    with (
        _client(allow_insecure_http) as client,
        _open_store(db, create=True, settle_days=settle_days) as store,
    ):
        try:
            others = store.unfinished_syncs(
                organization_id, since=datetime.now(UTC) - timedelta(hours=1)
            )
        except store_module.StoreError as error:
            raise CommandError(str(error)) from None
        if others:
            click.echo(
                f"ei-usage: another sync of organization {organization_id} started in the last "
                "hour has not finished (still running, or killed); this one goes on: rows are "
                "upserted, never duplicated",
                err=True,
            )
        interrupted = False
        with _render.progress(client.rate_stats) as on_progress:
            try:
                result = store_module.sync(
                    client,
                    store,
                    organization_id,
                    since,
                    until=until,
                    every=every,
                    refresh=refresh,
                    concurrency=concurrency,
                    on_progress=on_progress,
                )
            except store_module.SyncInterrupted as stopped:
                result, interrupted = stopped.result, True
            except store_module.StoreError as error:
                raise CommandError(
                    f"{error}; the sync stopped: what was saved stays, run it again to continue"
                ) from None
            except EdgeImpulseError as error:
                _fail(error)
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--since") from None
        waited = store.waited
        store_name = store.name
    partial = " - PARTIAL" if not result.ok else ""
    with _render.writing():
        click.echo(
            f"synced organization {organization_id}, {result.period} by {result.every}, into "
            f"{_safe.terminal(store_name)}{partial}"
        )
        click.echo(
            f"  organizations: {result.listed:,} listed ({result.deleted:,} deleted); contract "
            f"snapshots: {result.contracts:,}"
        )
        click.echo(
            f"  compute time: {result.fetched:,} fetched, {result.reused:,} reused from the store "
            f"(closed periods), {result.failed:,} failed, {result.not_attempted:,} not attempted"
        )
        click.echo(f"  requests: {result.requests:,} ({result.throttles:,} x 429 absorbed)")
    if waited.total_seconds() > 0.5:
        click.echo(
            f"ei-usage: waited {waited.total_seconds():.1f} s in all for another process writing "
            f"{_safe.terminal(store_name)}",
            err=True,
        )
    for line in result.failures[:10]:
        click.echo(f"ei-usage: failed: {_safe.terminal(line)}", err=True)
    if result.listing_stop_reason:
        _cut_short(result.listing_stop_reason, result.listed)
    if result.stop_reason:
        click.echo(
            f"ei-usage: stopped early: {_safe.terminal(result.stop_reason)}; run it again "
            "to continue",
            err=True,
        )
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if not result.ok:
        sys.exit(EXIT_FAILURE)


@cli.command(
    "history",
    help=(
        "Compute time from the history store alone (no network, no credential): per inner "
        "organization and --every period, with the change against the previous period, and "
        "overall. Fill the store with `ei-usage sync`.\n\n"
        f"{UNITS_HELP}"
    ),
)
@_ORG_OPTION
@click.option(
    "--inner",
    "inner_orgs",
    type=click.IntRange(min=0),
    multiple=True,
    help="Only this inner organization (repeat for more).",
)
@click.option(
    "--every",
    type=click.Choice(["month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="Calendar unit of each row.",
)
@_DB_OPTION
@_format_options(_REPORT_FORMATS, "html: one self-contained file with a chart.")
def history_command(
    organization_id: int,
    inner_orgs: tuple[int, ...],
    every: str,
    db: str | None,
    fmt: str,
    unit: str,
) -> None:
    """Compute time from the history store alone."""
    store_module = _store_module()
    from . import _history

    with _open_store(db, create=False) as store:
        try:
            monthly = store.monthly_compute_time(organization_id, inner_orgs or None)
        except store_module.StoreError as error:
            raise CommandError(str(error)) from None
        name = store.name
    if not monthly:
        click.echo(
            f"ei-usage: no compute time of organization {organization_id} in "
            f"{_safe.terminal(name)}: run `ei-usage sync --org {organization_id} --since ...` "
            "first",
            err=True,
        )
    with _render.writing():
        _history.render(
            organization_id, monthly, every, Unit(unit), fmt, sys.stdout, store_name=name
        )


def run(argv: list[str] | None) -> int:
    """Run the command line and return its exit status (see the module docstring)."""
    try:
        try:
            result = cli.main(args=argv, prog_name="ei-usage", standalone_mode=False)
        except click.ClickException as error:
            # click's own usage errors may quote what was typed (or an environment variable).
            shown = io.StringIO()
            error.show(file=shown)  # our CommandError writes its one clean line itself
            sys.stderr.write(_safe.lines(shown.getvalue()))
            return error.exit_code
        except click.exceptions.Abort:  # click's name for Ctrl-C (and EOF at a prompt)
            click.echo("ei-usage: interrupted", err=True)
            return EXIT_INTERRUPTED
        # click returns the exit code of --help/--version (an int) or the command's None.
        code = result if isinstance(result, int) else 0
        sys.stdout.flush()
    except (_render.PipeClosedError, BrokenPipeError):
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _quiet_stdout() -> None:
    # The reader went away: point stdout at /dev/null so the interpreter's final flush does not
    # raise again on its way out.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
