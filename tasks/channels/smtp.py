"""The summary mail through any SMTP server (smtplib), with STARTTLS, SSL or neither."""

import smtplib
import ssl
from email.message import EmailMessage

from tasks.channels import ChannelError
from tasks.channels.sendgrid import mail_parts

SCHEMA = {
    "host": {"type": "string", "required": True, "empty": False, "meta": {"doc": "SMTP server."}},
    "port": {"type": "integer", "min": 1, "max": 65535, "default": 587, "meta": {"doc": "SMTP port."}},
    "security": {"type": "string", "allowed": ["starttls", "ssl", "none"], "default": "starttls",
                 "meta": {"doc": "starttls (port 587), ssl (port 465) or none (a local relay only)."}},
    "from": {"type": "string", "required": True, "regex": r"[^@\s]+@[^@\s]+\.[^@\s]+",
             "meta": {"doc": "Sender address."}},
    "username": {"type": "string", "empty": False,
                 "meta": {"doc": "Login name; the password is the secret SMTP_PASSWORD. None: no login."}},
    "ca_file": {"type": "string", "empty": False,
                "meta": {"doc": "CA certificate(s) to trust instead of the system's (an internal mail server)."}},
}
SECRETS = ()
NEEDS_RECIPIENTS = True


def send(event, settings, secrets, http) -> bool:
    if not event.worth_a_message:
        return False
    subject, plain, page = mail_parts(event)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, settings["from"], ", ".join(event.recipients)
    message.set_content(plain)
    message.add_alternative(page, subtype="html")
    context = ssl.create_default_context(cafile=settings.get("ca_file"))
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
        raise ChannelError(f"SMTP {error.smtp_code}: {error.smtp_error.decode(errors='replace')}",
                           retryable=400 <= error.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"SMTP: {error}", retryable=True) from None
    return True
