"""The SMTP channel against a real SMTP server on 127.0.0.1 (aiosmtpd), plain and with STARTTLS and login."""

import datetime
import email
import email.policy
import email.utils
import ipaddress
import re
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tasks import render
from tasks.channels import ChannelError, deliver, smtp
from tasks.secrets import Secrets
from tests.channels.conftest import SECRETS, fails_at_once, make_summary, run_event
from tests.conftest import free_port


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def server(tmp_path):
    """Yields (inbox, port, ca_file, logins) of a server that offers STARTTLS and checks a password."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox, logins = Inbox(), []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"smtp-password-0007", handled=False)

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            authenticator=authenticate, auth_require_tls=True)
    controller.start()
    yield inbox, port, str(cert_file), logins
    controller.stop()


def body(message, kind: str) -> str:
    return message.get_body((kind,)).get_content().replace("\r\n", "\n").rstrip("\n")


def settings(port, **extra):
    return {"host": "127.0.0.1", "port": port, "security": "none", "from": "backup@example.com", **extra}


def test_plain_smtp_sends_text_and_html_to_every_recipient(server, http):
    inbox, port, _, _ = server
    report = make_summary(failed=True)
    assert smtp.send(run_event(report), settings(port), SECRETS, http) is True
    ((sender, recipients, message),) = inbox.messages
    assert sender == "backup@example.com" and recipients == ["admin@example.com", "ops@example.com"]
    assert message["Subject"] == "[backup FAILED] srv03: 1 of 2 backups ok"
    assert message["To"] == "admin@example.com, ops@example.com" and message["From"] == "backup@example.com"
    assert body(message, "plain") == render.text(report)
    assert body(message, "html") == render.html_page(report)


def test_the_mail_has_the_date_and_a_message_id_of_the_senders_domain(server, http):
    inbox, port, _, _ = server
    for _ in range(2):
        smtp.send(run_event(make_summary()), settings(port, **{"from": "backup@mail.example.org"}), SECRETS, http)
    ids = []
    for _, _, message in inbox.messages:
        sent = email.utils.parsedate_to_datetime(str(message["Date"]))  # RFC 5322 date-time, with its offset
        assert sent.tzinfo is not None
        assert abs(datetime.datetime.now(datetime.UTC) - sent) < datetime.timedelta(minutes=5)
        assert re.fullmatch(r"<[^<>@\s]+@mail\.example\.org>", str(message["Message-ID"])), message["Message-ID"]
        ids.append(str(message["Message-ID"]))
    assert len(set(ids)) == 2


def test_a_closed_port_fails_at_once_naming_host_and_port(http):
    closed = free_port()
    message = fails_at_once("smtp", smtp, run_event(make_summary()), settings(closed, username="backup"), http)
    assert message == f"smtp: connection refused: nothing listens at 127.0.0.1:{closed} (after 1 attempt)"


def test_starttls_with_login(server, http):
    inbox, port, ca_file, logins = server
    chosen = settings(port, security="starttls", username="backup", ca_file=ca_file)
    assert smtp.send(run_event(make_summary()), chosen, SECRETS, http)
    assert logins == [("backup", "smtp-password-0007")] and len(inbox.messages) == 1


def test_refused_login_is_reported_without_the_password(server, http):
    _, port, ca_file, _ = server
    wrong = Secrets({"SMTP_PASSWORD": "not-the-password"}, "test")
    chosen = settings(port, security="starttls", username="backup", ca_file=ca_file)
    with pytest.raises(ChannelError) as caught:
        deliver("smtp", smtp, run_event(make_summary()), chosen, wrong, http, 3, 0.01)
    assert f"smtp: SMTP 535 from 127.0.0.1:{port}: " in str(caught.value) and "after 1 attempt" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_untrusted_certificate_is_refused(server, http):
    _, port, _, _ = server
    with pytest.raises(ChannelError, match="CERTIFICATE_VERIFY_FAILED"):
        smtp.send(run_event(make_summary()), settings(port, security="starttls"), SECRETS, http)


def test_implicit_tls(tmp_path, http):
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        assert smtp.send(run_event(make_summary()), settings(port, security="ssl", ca_file=str(cert_file)),
                         SECRETS, http)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
