"""CRITICAL alerts to a phone through Pushover, low priority, one message per run."""

from tasks import render
from tasks.keys import api_address

SCHEMA = {
    "base_url": api_address("https://api.pushover.net"),
}
SECRETS = ("PUSHOVER_APP_TOKEN", "PUSHOVER_USER_KEY")
LOW_PRIORITY = -1
MESSAGE_LIMIT = 1024  # Pushover's limit in characters


def send(event, settings, secrets, http) -> bool:
    if event.kind == "test":
        message = f"Test message from the offsite backup copier on {event.host}."
        title = f"backup TEST {event.host}"
    elif event.kind == "run" and render.critical(event.summary):
        message, title = render.critical(event.summary), render.title(event.summary)
    else:
        return False
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    http.request("POST", f"{settings['base_url']}/1/messages.json", data={
        "token": secrets["PUSHOVER_APP_TOKEN"], "user": secrets["PUSHOVER_USER_KEY"],
        "title": title, "message": message, "priority": LOW_PRIORITY,
    })
    return True
