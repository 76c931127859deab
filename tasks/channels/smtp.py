"""The summary mail through any SMTP server (smtplib), with STARTTLS, SSL or neither."""

import email.utils
import smtplib
import ssl
from email.message import EmailMessage

from tasks.channels import ChannelError, unreachable
from tasks.channels.sendgrid import mail_parts
from tasks.keys import key

SCHEMA = {
    "host": key("string", "SMTP server's host name or address.", example="smtp.example.com",
                required=True, empty=False),
    "port": key("integer", "SMTP server's port.", default=587, min=1, max=65535),
    "security": key("string", "`starttls` (port 587), `ssl` (port 465) or `none` (a local relay only).",
                    default="starttls", allowed=["starttls", "ssl", "none"]),
    "from": key("string", "Sender address.", example="backup@example.com",
                required=True, regex=r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    "username": key("string", "Login name, whose password is the secret SMTP_PASSWORD; absent: no login.",
                    example="backup@example.com", empty=False),
    "ca_file": key("string", "CA certificate(s) to trust instead of the system's (an internal mail server).",
                   empty=False),
}
SECRETS = ()
NEEDS_RECIPIENTS = True


def send(event, settings, secrets, http) -> bool:
    if not event.worth_a_message:
        return False
    subject, plain, page = mail_parts(event)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, settings["from"], ", ".join(event.recipients)
    # RFC 5322 requires Date; large providers refuse or down-rank mail without Date or Message-ID
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=settings["from"].rpartition("@")[2])
    message.set_content(plain)
    message.add_alternative(page, subtype="html")
    try:
        context = ssl.create_default_context(cafile=settings.get("ca_file"))
    except (OSError, ssl.SSLError) as error:
        raise ChannelError(f"smtp.ca_file {settings.get('ca_file')!r} cannot be used: {error}") from None
    host = settings["host"]
    where = f"[{host}]:{settings['port']}" if ":" in host else f"{host}:{settings['port']}"
    try:
        if settings["security"] == "ssl":
            server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=http.timeout, context=context)
        else:
            server = smtplib.SMTP(settings["host"], settings["port"], timeout=http.timeout)
        with server:
            if settings["security"] == "starttls":
                server.starttls(context=context)
            if settings.get("username"):
                server.login(settings["username"], secrets.get("SMTP_PASSWORD", ""))
            server.send_message(message)
    except smtplib.SMTPResponseException as error:
        raise ChannelError(f"SMTP {error.smtp_code} from {where}: {error.smtp_error.decode(errors='replace')}",
                           retryable=400 <= error.smtp_code < 500) from None
    except smtplib.SMTPException as error:
        raise ChannelError(f"SMTP at {where}: {error}", retryable=True) from None
    except OSError as error:
        raise unreachable(where, error, http.timeout) from None
    return True
