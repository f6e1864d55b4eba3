"""Encryption at rest: the domain errors of keys and encrypted objects (each plane maps them
to its wire format: s3/handlers/sse.py, mgmt/routes/keys.py)."""

from __future__ import annotations

from .errors import DomainError


class KmsKeyNotFound(DomainError):
    """The KMS key does not exist."""

    kind = "kms_key_not_found"


class KmsKeyDisabled(DomainError):
    """The KMS key is disabled."""

    kind = "kms_key_disabled"


class KmsKeyExists(DomainError):
    """A KMS key with this alias already exists."""

    kind = "kms_key_exists"


class EncryptionKeyRequired(DomainError):
    """The object is encrypted with a customer key that the request did not give."""

    kind = "encryption_key_required"


class EncryptionKeyMismatch(DomainError):
    """The customer key given is not the one the object was encrypted with."""

    kind = "encryption_key_mismatch"


class EncryptionNotApplicable(DomainError):
    """Customer key headers were given for an object not encrypted with a customer key."""

    kind = "encryption_not_applicable"


class MasterKeyMissing(DomainError):
    """A wrapped data key names a master key the key ring does not hold."""

    kind = "master_key_missing"
