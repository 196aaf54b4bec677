"""One exception hierarchy. The CLI turns every AuditorError into one line and exit status 2.

Messages never carry PHI: they name tables, ids, sequence numbers and files, never values.
"""


class AuditorError(Exception):
    """Base of every error the auditor reports to a user."""


class ConfigurationError(AuditorError):
    """The vault home, its settings or the command line are wrong."""


class HomeExists(ConfigurationError):
    """`auditor init` refuses to overwrite an existing vault home."""


class HomeMissing(ConfigurationError):
    """No vault home, or no database, where one was expected."""


class SchemaError(AuditorError):
    """The database schema is missing, older than expected, or newer than this auditor."""


class KeyringError(AuditorError):
    """The keyring file is unreadable, corrupted, too widely readable, or the passphrase is wrong."""


class UnknownKey(KeyringError):
    """A key id that the keyring or key store does not hold (never held, retired, or destroyed)."""


class DecryptionError(AuditorError):
    """Any failure to decrypt. Deliberately says nothing about why (tampering, wrong key, wrong row)."""

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class KeyUsageExhausted(AuditorError):
    """A data key reached its limit of random-nonce encryptions (NIST SP 800-38D, 2^32)."""


class AccessDenied(AuditorError):
    """The gateway refused an access; the attempt itself was audited with outcome denied."""


class NotFound(AuditorError):
    """A patient, workforce member or record that does not exist (or was purged)."""


class AuditWriteFailed(AuditorError):
    """The audit event could not be written, so the access did not happen."""


class StorageError(AuditorError):
    """The database refused an operation; the transaction was rolled back and nothing changed."""


class TamperDetected(AuditorError):
    """The audit log or a checkpoint is inconsistent with what was signed."""


class InputError(AuditorError):
    """An input file or value cannot be read."""


class OutputError(InputError):
    """An output file or folder cannot be written (a full disk, no permission, a folder in the way);
    nothing of the command's outputs was left in place."""


class SignInRefused(AuditorError):
    """A staff sign-in refused. The message does not say which of the user name, the password or the
    code was wrong, or that the account is locked or disabled: the audit log does."""


class SignInRequired(AuditorError):
    """No staff session, or one that has ended (signed out, idle too long, too old, account disabled)."""


class NotPermitted(AuditorError):
    """The signed-in account's roles do not allow what was asked."""


class CursorRefused(TamperDetected):
    """A listener's or forwarder's cursor file that does not carry this vault's seal for its place
    (edited, copied from another place, damaged), or that points beyond what exists. Never reset."""
