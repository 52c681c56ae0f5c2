"""``emomon serve``: the reviewers' web workspace over this installation's store and settings."""

from __future__ import annotations

import ipaddress

import click

from monitor.cli.app import AppContext, pass_app
from monitor.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_hint(host: str, port: int) -> str:
    """How to serve on another host safely: behind a TLS reverse proxy."""
    return (
        f"emomon serve listens on {host}, reachable from other machines: put it behind a TLS reverse proxy "
        f"(e.g. Caddy: `reverse_proxy 127.0.0.1:{port}`; nginx: `proxy_pass http://127.0.0.1:{port};` in a "
        "server block with ssl_certificate), serve it on 127.0.0.1, and pass --behind-tls so session "
        "cookies are sent over HTTPS only"
    )


@click.command("serve")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on (another than 127.0.0.1 prints how to put it behind TLS). Example: --host 127.0.0.1",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on. Example: --port 8470",
)
@click.option(
    "--behind-tls",
    is_flag=True,
    help="A TLS reverse proxy on this machine serves the workspace: session cookies are marked Secure and "
    "its X-Forwarded-For/-Proto headers are trusted. Example: --behind-tls",
)
@pass_app
def serve(app: AppContext, host: str, port: int, behind_tls: bool) -> None:
    """Run the reviewers' web workspace: log in, work the alert queue, act on alerts with a note and
    a verdict, read author pages and source trends; leads also read the audit and re-identify.

    Accounts come from `emomon users add`. Stop with Ctrl-C.

    Example: emomon serve --port 8470
    """
    try:
        import uvicorn

        from monitor.web.app import create_app
    except ImportError as exc:
        raise ConfigError(
            f"emomon serve needs the web extra ({exc.name} is missing): pip install 'emomon[web]'"
        ) from exc
    if not is_loopback(host):
        app.log(proxy_hint(host, port))
    app.engine()  # the schema is checked (or a new database made) before the first request
    web = create_app(app.api, secure_cookies=behind_tls)
    if not app.api.users():
        app.log("no accounts yet: add one with `emomon users add NAME --role lead`")
    app.log(f"emomon serve: http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        web,
        host=host,
        port=port,
        proxy_headers=behind_tls,
        forwarded_allow_ips="127.0.0.1" if behind_tls else None,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


COMMANDS = (serve,)
