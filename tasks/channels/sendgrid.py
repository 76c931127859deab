"""The summary mail through SendGrid's v3 mail send API (the `sendgrid` package)."""

from tasks import render
from tasks.channels import http_error, unreachable
from tasks.keys import api_address, key

SCHEMA = {
    "from": key("string", "Sender address, verified in your SendGrid account (Settings → Sender Authentication).",
                example="backup@example.com", required=True, regex=r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    "base_url": api_address("https://api.sendgrid.com"),
}
SECRETS = ("SENDGRID_API_KEY",)
NEEDS_RECIPIENTS = True


def send(event, settings, secrets, http) -> bool:
    if not event.worth_a_message:
        return False
    import python_http_client  # here, not at the top: loading the package takes longer than `doit list` itself
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    subject, plain, page = mail_parts(event)
    message = Mail(from_email=settings["from"], to_emails=list(event.recipients), subject=subject,
                   plain_text_content=plain, html_content=page)
    client = SendGridAPIClient(api_key=secrets["SENDGRID_API_KEY"], host=settings["base_url"])
    client.client.timeout = http.timeout
    url = f"{settings['base_url']}/v3/mail/send"  # where client.send posts
    try:
        client.send(message)
    except python_http_client.exceptions.HTTPError as error:
        raise http_error(error.status_code, error.body, url) from None
    except OSError as error:  # connection refused, time-out, DNS: urllib's URLError is an OSError
        raise unreachable(url, error, http.timeout) from None
    return True


def mail_parts(event) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the mail for `event` (shared with the SMTP channel)."""
    if event.kind == "test":
        words = f"Test message from the offsite backup copier on {event.host}: mail delivery works."
        return f"[backup TEST] {event.host}", words, f"<html><body><p>{words}</p></body></html>"
    return render.title(event.summary), render.text(event.summary), render.html_page(event.summary)
