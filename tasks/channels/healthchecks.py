"""Pings to healthchecks.io (or a self-hosted Healthchecks): start, then success or fail with the summary.

The check's own schedule and grace time catch a run that never happened or never finished.
"""

from tasks import render
from tasks.keys import key

SCHEMA = {
    "base_url": key("string", "Ping address of healthchecks.io or of your own Healthchecks (the check's UUID is the "
                              "secret).", default="https://hc-ping.com"),
}
SECRETS = ("HEALTHCHECKS_UUID",)
BODY_LIMIT = 10_000  # Healthchecks keeps the first 10 kB of a ping body


def send(event, settings, secrets, http) -> bool:
    url = f"{settings['base_url']}/{secrets['HEALTHCHECKS_UUID']}"
    if event.kind == "start":
        http.request("POST", f"{url}/start", data=b"")
    elif event.kind == "test":  # /log records a message without changing the check's state
        http.request("POST", f"{url}/log", data=f"test from the backup copier on {event.host}".encode())
    else:
        suffix = "/fail" if event.summary.state == "failed" else ""
        http.request("POST", url + suffix, data=render.text(event.summary).encode()[:BODY_LIMIT])
    return True
