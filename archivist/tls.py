"""TLS and credential options for the three clients, built from the settings (pure functions).

- RabbitMQ (kombu/py-amqp): the ``ssl`` transport option, a dict of ``ssl.SSLContext.wrap_socket``
  style keys that py-amqp turns into a client context. Built for every ``amqps://`` URL, so the
  certificate is always checked (``CERT_REQUIRED``) and, unless switched off, so is the host name
  (py-amqp checks neither the host name nor sends SNI when it is given ``ssl=True`` alone).
- PostgreSQL (psycopg 3/libpq): connection keyword arguments ``sslmode``, ``sslrootcert``,
  ``sslcert`` and ``sslkey``; they are passed as the engine's ``connect_args`` and so override the
  same parameters in the URL's query string.
- Elasticsearch (elasticsearch-py): ``ca_certs`` and ``api_key`` keyword arguments of the client.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from archivist.settings import Settings, url_scheme


def broker_ssl_options(settings: Settings) -> dict[str, Any] | None:
    """kombu's ``ssl`` option for the broker URL: None for ``amqp://`` (no TLS), else the options."""
    if settings.broker_url is None or url_scheme(settings.broker_url) != "amqps":
        return None
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    if settings.broker_tls_ca_file is not None:
        options["ca_certs"] = str(settings.broker_tls_ca_file)
    if settings.broker_tls_cert_file is not None and settings.broker_tls_key_file is not None:
        options["certfile"] = str(settings.broker_tls_cert_file)
        options["keyfile"] = str(settings.broker_tls_key_file)
    if settings.broker_tls_verify_hostname:
        # py-amqp checks the certificate's names (and sends SNI) only when given the host name.
        first = settings.broker_url.get_secret_value().split(";", 1)[0].strip()
        options["server_hostname"] = urlsplit(first).hostname
    return options


def database_connect_args(settings: Settings) -> dict[str, str]:
    """libpq's TLS parameters for PostgreSQL; empty when no database TLS setting is made.

    Naming a CA, certificate or key without a mode means ``verify-full``: libpq's own default
    (``prefer``) would accept any certificate, or none.
    """
    files = {
        "sslrootcert": settings.database_tls_ca_file,
        "sslcert": settings.database_tls_cert_file,
        "sslkey": settings.database_tls_key_file,
    }
    given = {key: str(path) for key, path in files.items() if path is not None}
    if settings.database_tls_mode is None and not given:
        return {}
    return {"sslmode": settings.database_tls_mode or "verify-full", **given}


def elasticsearch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``Elasticsearch(...)`` beyond the URL: the CA bundle and API key."""
    options: dict[str, Any] = {}
    if settings.elasticsearch_tls_ca_file is not None:
        options["ca_certs"] = str(settings.elasticsearch_tls_ca_file)
    if settings.elasticsearch_api_key is not None:
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    return options
