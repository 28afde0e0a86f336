"""Environment flags read by rec, with TorchEasyRec's names where they exist."""

import os


def env_flag(name: str, default: bool = False) -> bool:
    """True when the env var is set to 1/true/yes/on (case-insensitive)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    """An integer env var, or `default` when unset."""
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def use_farm_hash() -> bool:
    """USE_FARM_HASH_TO_BUCKETIZE: bucketize hashed ids with FarmHash Fingerprint64."""
    return env_flag("USE_FARM_HASH_TO_BUCKETIZE")


def process_group_timeout_seconds() -> int:
    """PROCESS_GROUP_TIMEOUT_SECONDS: how long a collective may wait for a lost peer."""
    return env_int("PROCESS_GROUP_TIMEOUT_SECONDS", 300)
