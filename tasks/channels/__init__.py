"""Notification channels and heartbeat monitors: one module per service, all of the same shape.

Each module in this package defines:

    SCHEMA   its settings under `notifications.<module name>` in config.yaml (Cerberus rules)
    SECRETS  names of the secrets it needs (environment variables, or lines of the secrets file)
    send(event, settings, secrets, http) -> bool
             deliver `event` if this channel cares about it (True), or ignore it (False); raise ChannelError
    TEST_SKIPPED  (optional) why `doit test_notify` sends nothing through it, printed instead

Adding a channel is adding a module: the registry below finds it, the schema and the secret check use it.
"""

import dataclasses
import importlib
import ipaddress
import logging
import pkgutil
import time
from urllib.parse import urlsplit

from tasks.summary import Summary

log = logging.getLogger("backup.notify")


@dataclasses.dataclass(frozen=True)
class Event:
    """What happened: a run started, a run ended (with its summary), or an administrator asked for a test."""

    kind: str                       # "start", "run" or "test"
    host: str
    summary: Summary | None = None  # with "run"
    recipients: tuple[str, ...] = ()
    notify_on_success: bool = True

    @property
    def worth_a_message(self) -> bool:
        """For message channels (mail, chat): tests always; runs unless all is well and only problems are wanted."""
        if self.kind == "test":
            return True
        return self.kind == "run" and (self.notify_on_success or self.summary.state != "ok")


class ChannelError(Exception):
    """A channel could not deliver. `retryable`: a timeout, a lost connection, HTTP 429 or 5xx; not a refused
    connection (see `unreachable`)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class Http:
    """requests with a time limit, turning every failure into a ChannelError with the status and the service's text."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.session = None

    def request(self, method: str, url: str, **kwargs):
        import requests  # here, not at the top: `doit list` loads every channel module and needs none of this

        self.session = self.session or requests.Session()
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ChannelError(f"no answer from {url} within {self.timeout:g} s", retryable=True) from None
        except requests.ConnectionError as error:
            raise unreachable(url, error, self.timeout) from None
        if response.status_code >= 400:
            raise http_error(response.status_code, response.text, url)
        return response


def http_error(status: int, body: str | bytes, url: str) -> ChannelError:
    """The status and the service's own words, and the URL: a 404 from a mistyped `base_url` says nothing else."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return ChannelError(f"HTTP {status} from {url}: {' '.join(body.split())[:300]}",
                        retryable=status == 429 or status >= 500)


def unreachable(where: str, error: BaseException, timeout: float) -> ChannelError:
    """A connection that failed, naming `where` (the URL or host:port; `deliver` masks the secrets in it).

    A refused connection is not retried: the host answered at once that nothing listens there (a wrong address
    or port, a stopped service), which seconds of waiting seldom change. Timeouts and dropped connections are."""
    causes = _causes(error)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return ChannelError(f"connection refused: nothing listens at {where}")
    if any(isinstance(cause, TimeoutError) for cause in causes):
        return ChannelError(f"no answer from {where} within {timeout:g} s", retryable=True)
    return ChannelError(f"cannot connect to {where} ({causes[-1] or type(causes[-1]).__name__})", retryable=True)


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what it wraps, outermost first: requests and urllib hide the socket's error a few layers down
    (in __cause__, __context__, `reason` or `args`)."""
    chain, pending = [], [error]
    while pending and len(chain) < 20:
        current = pending.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending += [item for item in inner if isinstance(item, BaseException)]
    return chain


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: localhost, 127.0.0.0/8 or ::1 (a test server, a local relay)."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_problem(url: str) -> str | None:
    """Why a channel's `base_url` would expose its token (it is in the URL or the request), or None: only https
    encrypts it; plain http is accepted to this machine only."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a valid URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if is_loopback(host):
            return None
        return (f"http:// would send this channel's token unencrypted to {host}: use https:// (plain http only to "
                "this machine: localhost, 127.0.0.1, ::1)")
    return "must be an https:// address"


def registry() -> dict:
    """Every channel module of this package, by name."""
    return {info.name: importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)}


def deliver(name: str, channel, event: Event, settings: dict, secrets, http: Http,
            attempts: int, wait_seconds: float) -> bool:
    """Send through one channel, retrying what may pass (with doubling waits); raise the last error, masked."""
    for attempt in range(1, attempts + 1):
        try:
            return channel.send(event, settings, secrets, http)
        except ChannelError as error:
            message = secrets.mask(str(error))
            if not error.retryable or attempt == attempts:
                raise ChannelError(f"{name}: {message} (after {attempt} attempt{'s' * (attempt > 1)})") from None
            log.warning("%s: %s; trying again (%d of %d)", name, message, attempt + 1, attempts)
            time.sleep(wait_seconds * 2 ** (attempt - 1))
    raise AssertionError("attempts must be at least 1")
