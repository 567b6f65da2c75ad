"""The client daemon's ini file: loading, validation, editing, the security password.

Modelled on a bank direct-connect client's ``etc/*.ini``: one file with the
sections ``[security]``, ``[communication]``, ``[enterprise]``, ``[bind]``,
``[forward]``, ``[cert]`` and ``[files]``. The package's modules, one job each:

- :mod:`~config.ini.model`: the typed, immutable :class:`ClientConfig`;
- :mod:`~config.ini.keys`: every key, its description and default (:data:`KNOWN_KEYS`);
- :mod:`~config.ini.values`: how each key's value is checked and converted;
- :mod:`~config.ini.parsing`: reading and validating a file (:func:`load_config`,
  :func:`parse_config`), reporting every problem with file, section and key;
- :mod:`~config.ini.editor`: editing a file in place without losing the admin's
  comments (:class:`IniFile`), refusing any edit that would make it invalid;
- :mod:`~config.ini.passwords`: hashing and checking the security password
  (:func:`hash_password`, :func:`verify_password`);
- :mod:`~config.ini.defaults`: a complete commented file for a new home directory
  (:func:`render_default_config`); etc/directlink.ini is its output.

The names below are the package's interface; import them from ``config.ini``.
"""

from config.errors import ConfigError
from config.ini.defaults import render_default_config
from config.ini.editor import IniFile
from config.ini.keys import KNOWN_KEYS, SECRET_KEYS, SECTION_DESCRIPTIONS, KeySpec, masked
from config.ini.model import (
    BindConfig,
    CertConfig,
    ClientConfig,
    CommunicationConfig,
    EnterpriseConfig,
    FilesConfig,
    ForwardConfig,
    Network,
    Proxy,
    SecurityConfig,
)
from config.ini.parsing import load_config, parse_config
from config.ini.passwords import hash_password, password_bytes, verify_password
from protocol.keys import format_fingerprint, normalize_fingerprint

__all__ = [
    "KNOWN_KEYS",
    "SECRET_KEYS",
    "SECTION_DESCRIPTIONS",
    "BindConfig",
    "CertConfig",
    "ClientConfig",
    "CommunicationConfig",
    "ConfigError",
    "EnterpriseConfig",
    "FilesConfig",
    "ForwardConfig",
    "IniFile",
    "KeySpec",
    "Network",
    "Proxy",
    "SecurityConfig",
    "format_fingerprint",
    "hash_password",
    "load_config",
    "masked",
    "normalize_fingerprint",
    "parse_config",
    "password_bytes",
    "render_default_config",
    "verify_password",
]
