"""Local Secrets: one 0600 JSON file per Secret name, in a 0700 folder.

The local analogue of `kubectl create secret generic NAME --from-literal=KEY=...`.
Values are only ever read into process environments, never onto a command line.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from .errors import HarnessError


class Secret(str):
    """A secret value whose repr never shows it (pytest prints reprs in failures)."""

    def __repr__(self) -> str:
        return "Secret('***')"


class SecretStore:
    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def read(self, name: str) -> dict[str, str]:
        path = self.path(name)
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise HarnessError(f"secret file {path} is unreadable ({e}): fix or delete it") from None

    def get(self, name: str, key: str) -> Secret:
        data = self.read(name)
        if not self.path(name).is_file():
            raise HarnessError(f"secret {name} does not exist (looked for {self.path(name)})")
        if not data.get(key):
            raise HarnessError(f"secret {name} has no key {key}: set {key} in the environment and deploy again")
        return Secret(data[key])

    def put(self, name: str, key: str, value: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        data = self.read(name)
        data[key] = value
        # Write to a private temp file and rename, so the value is never readable by others
        # and a crash never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def ensure(
        self, name: str, key: str, given: str | None = None, generate=lambda: secrets.token_urlsafe(24)
    ) -> tuple[Secret, str]:
        """Use `given` if set, else the stored value, else generate one. Returns (value, origin)."""
        current = self.read(name).get(key)
        if given:
            if given != current:
                self.put(name, key, given)
            return Secret(given), "environment"
        if current:
            return Secret(current), "stored"
        value = generate()
        self.put(name, key, value)
        return Secret(value), "generated"

    def all_values(self) -> list[Secret]:
        found: list[Secret] = []
        if self.directory.is_dir():
            for path in self.directory.glob("*.json"):
                found.extend(Secret(v) for v in self.read(path.stem).values() if v)
        return found
