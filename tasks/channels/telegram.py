"""The summary as a Telegram message (bot API sendMessage)."""

from tasks import render
from tasks.keys import api_address, key

SCHEMA = {
    "chat_id": key(["string", "integer"], "Chat to write to: the id of a user, group or channel.",
                   example="123456789", required=True),
    "base_url": api_address("https://api.telegram.org"),
}
SECRETS = ("TELEGRAM_BOT_TOKEN",)
MESSAGE_LIMIT = 4096  # Telegram's limit in characters


def send(event, settings, secrets, http) -> bool:
    if not event.worth_a_message:
        return False
    if event.kind == "test":
        text = f"Test message from the offsite backup copier on {event.host}."
    else:
        text = render.text(event.summary)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1] + "…"
    http.request("POST", f"{settings['base_url']}/bot{secrets['TELEGRAM_BOT_TOKEN']}/sendMessage",
                 json={"chat_id": settings["chat_id"], "text": text})
    return True
