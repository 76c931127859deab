"""Heartbeat to an Uptime Kuma push monitor: "up" after a good run, "down" with the reason after a bad one.

A run that never happens sends nothing, and the monitor's own heartbeat interval raises the alarm.
"""

from tasks import render
from tasks.keys import key

SCHEMA = {
    "base_url": key("string", "Address of your Uptime Kuma (the push token is the secret).",
                    example="https://kuma.example.com", required=True, empty=False),
}
SECRETS = ("UPTIME_KUMA_PUSH_TOKEN",)
# The push API has no log-only call: a test push of "up" would clear a monitor that is down after a real failure.
TEST_SKIPPED = "a test push would mark the monitor up"


def send(event, settings, secrets, http) -> bool:
    if event.kind == "run":
        status = "down" if event.summary.state == "failed" else "up"
        message = render.title(event.summary)
    else:
        return False
    http.request("GET", f"{settings['base_url']}/api/push/{secrets['UPTIME_KUMA_PUSH_TOKEN']}",
                 params={"status": status, "msg": message, "ping": ""})
    return True
