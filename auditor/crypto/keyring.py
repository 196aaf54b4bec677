"""The keyring file: key-encryption keys (KEKs), the blind-index root key, the audit-log MAC key and
the checkpoint signing key.

"First key encrypts, every key decrypts, rotate() rewraps": the primary KEK wraps new data keys; active
KEKs still unwrap; a retired KEK's material is destroyed and its id answers UnknownKey. Which KEK is
primary for new data keys is the key store's to say (see rotation.py); a process that meets a KEK newer
than its copy of the keyring reads the file again.

The file is JSON, written atomically with mode 0600, and refused when group- or world-readable. With
a passphrase (chosen as passphrase.py says, NFKC-normalised) its secrets are sealed with AES-256-GCM
under a key derived by scrypt, the public part
(key ids and states, the signing public key) bound as associated data. A checksum over the whole
document tells corruption from a wrong passphrase.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives import serialization

from auditor.clock import Clock, SystemClock
from auditor.crypto import _aead
from auditor.crypto.passphrase import check_new_passphrase, spellings
from auditor.errors import DecryptionError, KeyringError, UnknownKey
from auditor.phi_files import write_private

FORMAT = "auditor-keyring/1"
SCRYPT_N = 2**15  # ~32 MiB, interactive-grade (RFC 7914 §2 guidance)
SCRYPT_R = 8
SCRYPT_P = 1
_PASSPHRASE_KEY_ID = 0


@dataclass(frozen=True)
class KekInfo:
    id: int
    status: str  # primary | active | retired
    created_at: str
    retired_at: str | None

    @property
    def label(self) -> str:
        return f"kek-{self.id}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def check_private(path: Path) -> None:
    """Refuse a keyring that anyone but its owner can read (or that is not a regular file)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise KeyringError(f"keyring {path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyringError(f"keyring {path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyringError(
            f"keyring {path} is readable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {path}"
        )


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _read(path: Path) -> tuple[dict, Any]:
    """The public part of the keyring file (checksum verified) and its still sealed secrets."""
    check_private(path)
    try:
        raw = json.loads(path.read_bytes())
        checksum = raw.pop("checksum")
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyringError(f"keyring {path} is corrupted (not a readable {FORMAT} file)") from None
    if hashlib.sha256(_canonical(raw)).hexdigest() != checksum:
        raise KeyringError(f"keyring {path} is corrupted (checksum mismatch)")
    return raw, raw.pop("secrets", None)


def _open_secrets(path: Path, raw: dict, body: Any, wrap_key: bytes | None) -> dict | None:
    """The secrets, opened with `wrap_key` when the file is sealed; None when that key is wrong."""
    kind = raw.get("protection", {}).get("kind")
    try:
        if kind == "scrypt" and wrap_key is not None:
            try:
                secrets = json.loads(_aead.Sealer(_PASSPHRASE_KEY_ID, wrap_key).open(_unb64(body), _canonical(raw)))
            except DecryptionError:
                return None
        elif kind == "none":
            secrets = body
        else:
            raise ValueError
        if not isinstance(secrets, dict) or not {"keks", "index_root", "log_mac", "signing_private"} <= set(secrets):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise KeyringError(f"keyring {path} is corrupted (secrets unreadable)") from None
    return secrets


class Keyring:
    """The keys of one vault home. Load with `Keyring.load`, make with `Keyring.create`."""

    def __init__(self, path: Path, doc: dict, secrets: dict, wrap_key: bytes | None, clock: Clock) -> None:
        self.path = path
        self._doc = doc
        self._secrets = secrets
        self._wrap_key = wrap_key
        self._clock = clock
        self._sealers: dict[int, _aead.Sealer] = {}
        self._reloading = threading.Lock()

    # -- creation and loading ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: str | None = None,
        clock: Clock | None = None,
        scrypt_n: int = SCRYPT_N,
    ) -> "Keyring":
        clock = clock or SystemClock()
        if path.exists():
            raise KeyringError(f"keyring {path} already exists; refusing to overwrite it")
        now = clock.now().isoformat()
        signing = Ed25519PrivateKey.generate()
        secrets = {
            "keks": {"1": _b64(_aead.new_key())},
            "index_root": _b64(os.urandom(32)),
            "log_mac": _b64(os.urandom(32)),
            "signing_private": _b64(
                signing.private_bytes(
                    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
                )
            ),
        }
        public_key = signing.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        doc: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now,
            "keks": [{"id": 1, "status": "primary", "created_at": now, "retired_at": None}],
            "signing_public_key": _b64(public_key),
        }
        wrap_key = None
        if passphrase is not None:
            passphrase = check_new_passphrase(passphrase)
            salt = os.urandom(16)
            doc["protection"] = {"kind": "scrypt", "salt": _b64(salt), "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P}
            wrap_key = _derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
        else:
            doc["protection"] = {"kind": "none"}
        ring = cls(path, doc, secrets, wrap_key, clock)
        ring.save()
        return ring

    @classmethod
    def load(cls, path: Path, passphrase: str | None = None, clock: Clock | None = None) -> "Keyring":
        raw, body = _read(path)
        protection = raw.get("protection", {})
        wrap_key = None
        if protection.get("kind") == "scrypt":
            if not passphrase:
                raise KeyringError(
                    f"keyring {path} is protected by a passphrase; set AUDITOR_PASSPHRASE or enter it when asked"
                )
            for spelling in spellings(passphrase):
                try:
                    wrap_key = _derive(spelling, _unb64(protection["salt"]), protection["n"], protection["r"],
                                       protection["p"])
                except (ValueError, KeyError, TypeError):
                    raise KeyringError(f"keyring {path} is corrupted (secrets unreadable)") from None
                secrets = _open_secrets(path, raw, body, wrap_key)
                if secrets is not None:
                    break
            else:
                raise KeyringError(f"wrong passphrase for keyring {path}")
        else:
            secrets = _open_secrets(path, raw, body, None)
        return cls(path, raw, secrets, wrap_key, clock or SystemClock())

    def reload(self) -> None:
        """Read the file again (another process rotated the keys): the same passphrase opens it."""
        with self._reloading:
            raw, body = _read(self.path)
            secrets = _open_secrets(self.path, raw, body, self._wrap_key)
            if secrets is None:
                raise KeyringError(f"keyring {self.path} was replaced by one under another passphrase; "
                                   "run the command again")
            self._doc, self._secrets, self._sealers = raw, secrets, {}

    def save(self) -> None:
        doc = dict(self._doc)
        if self._wrap_key is not None:
            doc["secrets"] = _b64(
                _aead.Sealer(_PASSPHRASE_KEY_ID, self._wrap_key).seal(_canonical(self._secrets), _canonical(doc))
            )
        else:
            doc["secrets"] = self._secrets
        doc["checksum"] = hashlib.sha256(_canonical(doc)).hexdigest()
        write_private(self.path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")

    # -- key-encryption keys ------------------------------------------------------------------
    @property
    def keks(self) -> list[KekInfo]:
        return [KekInfo(k["id"], k["status"], k["created_at"], k["retired_at"]) for k in self._doc["keks"]]

    @property
    def primary_kek(self) -> _aead.Sealer:
        (primary,) = [k for k in self.keks if k.status == "primary"]
        return self.kek(primary.id)

    def kek(self, kek_id: int) -> _aead.Sealer:
        """The sealer for KEK `kek_id`: UnknownKey when the keyring never held it or retired it. A KEK
        newer than any this process knows was made by a rotation elsewhere: the file is read again."""
        sealer = self._sealers.get(kek_id)
        if sealer is None:
            if kek_id > max(k.id for k in self.keks):
                self.reload()
            material = self._secrets["keks"].get(str(kek_id))
            if material is None:
                raise UnknownKey(f"key-encryption key kek-{kek_id} is unknown or retired")
            sealer = self._sealers[kek_id] = _aead.Sealer(kek_id, _unb64(material))
        return sealer

    def add_primary_kek(self) -> int:
        """Make a new KEK primary; the old primary stays active (unwrap only) until retired."""
        new_id = max(k["id"] for k in self._doc["keks"]) + 1
        for k in self._doc["keks"]:
            if k["status"] == "primary":
                k["status"] = "active"
        self._doc["keks"].append(
            {"id": new_id, "status": "primary", "created_at": self._clock.now().isoformat(), "retired_at": None}
        )
        self._secrets["keks"][str(new_id)] = _b64(_aead.new_key())
        self.save()
        return new_id

    def retire_kek(self, kek_id: int) -> None:
        """Destroy a non-primary KEK's material. Only call once no data key is wrapped by it."""
        (entry,) = [k for k in self._doc["keks"] if k["id"] == kek_id]
        if entry["status"] == "primary":
            raise KeyringError(f"kek-{kek_id} is the primary key and cannot be retired")
        entry["status"] = "retired"
        entry["retired_at"] = self._clock.now().isoformat()
        self._secrets["keks"].pop(str(kek_id), None)
        self._sealers.pop(kek_id, None)
        self.save()

    # -- other keys ---------------------------------------------------------------------------
    @property
    def index_root_key(self) -> bytes:
        return _unb64(self._secrets["index_root"])

    @property
    def log_mac_key(self) -> bytes:
        return _unb64(self._secrets["log_mac"])

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(_unb64(self._secrets["signing_private"]))

    @property
    def signing_public_key(self) -> bytes:
        return _unb64(self._doc["signing_public_key"])

    @property
    def fingerprint(self) -> str:
        """What names this keyring in the databases made with it: the SHA-256 of its signing public key
        (public, unchanged by rotation, different for every keyring)."""
        return "sha256:" + hashlib.sha256(self.signing_public_key).hexdigest()

    @property
    def passphrase_protected(self) -> bool:
        return self._wrap_key is not None

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self._doc["created_at"])
