"""Where the console app lives and how Streamlit is configured to run it (no streamlit import)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..config import project_root
from ..errors import ConfigError


def app_path() -> Path:
    return project_root() / "app" / "main.py"


def streamlit_options(port: int) -> dict[str, Any]:
    """The project's .streamlit/config.toml as Streamlit command-line flag options, with the
    port given; so the console looks and behaves the same from whatever folder it starts."""
    path = project_root() / ".streamlit" / "config.toml"
    options: dict[str, Any] = {}
    if path.is_file():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"is not valid TOML ({exc}); fix the file") from None
        for section, values in config.items():
            for key, value in values.items():
                options[f"{section}_{key}"] = value
    options["server_port"] = port
    options["server_address"] = "127.0.0.1"
    options["server_headless"] = True
    return options


def streamlit_command(python: str, port: int, settings: Any = None) -> list[str]:
    """``python app/serve.py run app/main.py --section.option=value …`` for the console (the
    same command line as ``streamlit run``, see app/serve.py). With
    ``settings`` whose single sign-on is configured, Streamlit also reads the ``[auth]`` secrets
    written from them (sge_recon/console/sso.py)."""
    options = streamlit_options(port)
    if settings is not None:
        from .sso import write_auth_secrets

        secrets_file = write_auth_secrets(settings, port)
        if secrets_file is not None:
            options["secrets_files"] = str(secrets_file)
    flags = []
    for name, value in options.items():
        section, option = name.split("_", 1)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        flags.append(f"--{section}.{option}={text}")
    # app/serve.py: `streamlit run` with the library imported before the port opens, so the
    # first page run does not pay for those imports
    return [python, str(app_path().parent / "serve.py"), "run", str(app_path()), *flags]

