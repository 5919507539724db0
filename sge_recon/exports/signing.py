"""Ed25519 signatures of ``manifest.json``: proof of origin an auditor can check offline.

The hashes in the manifest prove that the files match the manifest; the signature proves that the
manifest is the one sge-recon wrote. The private key comes from the ``EXPORT_SIGNING_KEY`` setting
(normally ``EXPORT_SIGNING_KEY_FILE``); auditors receive the public key out of band
(``sge-recon export public-key``) and pass it to ``sge-recon export verify --public-key``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from ..errors import ConfigError, ExportError

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"


def generate_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _private_key(pem: str):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError("EXPORT_SIGNING_KEY", "is not a PEM private key; create one with "
                                                "`sge-recon export keygen FILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("EXPORT_SIGNING_KEY", "must be an Ed25519 key; create one with "
                                                "`sge-recon export keygen FILE`")
    return key


def public_key_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    public = _private_key(private_pem).public_key()
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# Where `sge-recon demo` keeps the key that signs its exports (under SGE_RECON_HOME).
DEMO_KEY_FILE = "export-signing-key.pem"


def fingerprint(public_pem: str) -> str:
    """The usual key fingerprint: ``SHA256:`` + base64 (unpadded, as ssh-keygen prints it) of the
    SHA-256 of the raw 32-byte Ed25519 public key. With openssl:
    ``openssl pkey -pubin -in key.pub -outform DER | tail -c 32 | openssl dgst -sha256 -binary |
    base64 | tr -d =``."""
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_public_key(public_pem.encode())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def sign_manifest(folder: Path, private_pem: str) -> Path:
    """Write ``manifest.sig`` beside ``manifest.json``."""
    manifest = (folder / "manifest.json").read_bytes()
    signature = _private_key(private_pem).sign(manifest)
    body = {"algorithm": ALGORITHM, "signs": "manifest.json",
            "public_key_fingerprint": fingerprint(public_key_pem(private_pem)),
            "signature": base64.b64encode(signature).decode()}
    path = folder / SIGNATURE
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def load_public_key(public_pem: str):
    """The Ed25519 public key of a PEM text. Anything else (a private key, an RSA key, not a key
    at all) is an ExportError, exit 3: the export could not be verified (it is not "altered")."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    fix = ("give --public-key the PEM file that `sge-recon export public-key` prints; the "
           "export could not be verified")
    if "PRIVATE KEY-----" in public_pem:
        raise ExportError(f"--public-key: the file holds a private key, not a public key; {fix}")
    try:
        public = serialization.load_pem_public_key(public_pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ExportError(f"--public-key: the file is not a PEM public key; {fix}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ExportError(f"--public-key: the file is not an Ed25519 key (sge-recon signs with "
                          f"Ed25519); {fix}")
    return public


def check_signature(folder: Path, public_pem: str) -> str | None:
    """None when ``manifest.sig`` is a valid signature of ``manifest.json`` by this key;
    otherwise a sentence saying what is wrong. A key that is not an Ed25519 public key raises
    (see :func:`load_public_key`)."""
    from cryptography.exceptions import InvalidSignature

    public = load_public_key(public_pem)
    path = folder / SIGNATURE
    if not path.is_file():
        return "is missing: the export is not signed (or the signature was removed)"
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError):
        return "is not a readable signature file"
    try:
        public.verify(signature, (folder / "manifest.json").read_bytes())
    except InvalidSignature:
        return ("does not match manifest.json under the given public key (the manifest was "
                "altered, or it was signed by another key)")
    return None
