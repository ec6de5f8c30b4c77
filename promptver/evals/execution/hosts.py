"""Where an API key from the environment may be sent.

A bundle is data from a pull request as much as from its authors: its ``base_url`` must not
be able to pull a key out of CI. A key read from the environment therefore goes only to

1. its provider's own host (``api.openai.com`` for ``OPENAI_API_KEY``, ...), or
2. a base URL the environment itself chose (``<NAME>_BASE_URL``), or
3. a host allowed outside the bundle: ``PROMPTVER_ALLOWED_HOSTS`` (comma or space
   separated, ``host`` or ``host:port``) or ``allowed_hosts`` under ``[evals]`` in the
   user's configuration (``$XDG_CONFIG_HOME/promptver/config.toml``, by default
   ``~/.config/promptver/config.toml``). Never ``bundle.toml`` nor ``.promptver/config.toml``,
   which a change under review can edit.

and never over plain ``http`` except to a loopback address. Anything else is refused before
any request (`check_key_destination`), naming the host and how to allow it.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from promptver.errors import ConfigError

ALLOWED_HOSTS_VARIABLE = "PROMPTVER_ALLOWED_HOSTS"

# The providers' own API hosts, by the provider name whose <NAME>_API_KEY they receive.
PROVIDER_HOSTS: dict[str, frozenset[str]] = {
    "openai": frozenset({"api.openai.com"}),
    "anthropic": frozenset({"api.anthropic.com"}),
    "cohere": frozenset({"api.cohere.com", "api.cohere.ai"}),
    "jina": frozenset({"api.jina.ai"}),
    "voyage": frozenset({"api.voyageai.com"}),
    "mistral": frozenset({"api.mistral.ai"}),
    "groq": frozenset({"api.groq.com"}),
    "together": frozenset({"api.together.xyz"}),
    "deepseek": frozenset({"api.deepseek.com"}),
    "fireworks": frozenset({"api.fireworks.ai"}),
    "openrouter": frozenset({"openrouter.ai"}),
}


def user_config_path(env: Mapping[str, str]) -> Path:
    """The user's (or CI runner's) own configuration, outside any project."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "promptver" / "config.toml"


def allowed_hosts(env: Mapping[str, str]) -> frozenset[str]:
    """Hosts (``host`` or ``host:port``, lower case) allowed by the environment and the user."""
    found = {part.strip().lower() for part in env.get(ALLOWED_HOSTS_VARIABLE, "").replace(",", " ").split()}
    path = user_config_path(env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        data = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", location=str(path)) from exc
    listed = data.get("evals", {}).get("allowed_hosts", []) if isinstance(data.get("evals"), dict) else []
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise ConfigError(
            "[evals] allowed_hosts must be a list of host names",
            location=str(path),
            hint='e.g. allowed_hosts = ["llm.internal"]',
        )
    found.update(item.strip().lower() for item in listed)
    found.discard("")
    return frozenset(found)


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_destination(
    provider: str, variable: str, base_url: str, *, env: Mapping[str, str], from_env: bool
) -> None:
    """Raise ConfigError unless the key in ``variable`` may be sent to ``base_url``.

    ``from_env``: the environment chose ``base_url`` (``<NAME>_BASE_URL``), so its host is
    allowed; plain http still goes only to loopback."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"{variable} would be sent to {base_url!r}, which is not an http(s) URL",
            hint="give base_url as https://HOST/...",
        )
    if scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{variable} would be sent over plain http to {host}",
            hint="keys go over https, or over http only to a loopback address (127.0.0.1, localhost)",
        )
    if from_env or host in PROVIDER_HOSTS.get(provider, frozenset()):
        return
    allowed = allowed_hosts(env)
    if host in allowed or (port is not None and f"{host}:{port}" in allowed):
        return
    raise ConfigError(
        f"{variable} would be sent to {host}, which is not {provider}'s own host and not an allowed host",
        hint=f"if {host} is yours, allow it outside the bundle: {ALLOWED_HOSTS_VARIABLE}={host} "
        f'in the environment, allowed_hosts = ["{host}"] under [evals] in {user_config_path(env)}, '
        f"or set {variable.removesuffix('_API_KEY')}_BASE_URL",
    )
