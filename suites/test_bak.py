"""BAK: backup → remove --purge → deploy → restore gives back every user and byte.

Done on the scratch namespace (fixtures/scratch.py), with a user writing during the
backup, and a corrupted archive that must be refused without touching anything.
"""

import hashlib
import io
import json
import tarfile

import pytest

from fixtures.scratch import BAK_FILES, BAK_USERS, sha, user_records
from hubharness.backup import DB_MEMBER, MANIFEST, integrity
from hubharness.errors import HarnessError

pytestmark = pytest.mark.check("BAK")


@pytest.fixture(scope="module")
def cycle(scratch_result):
    assert scratch_result.bak is not None, "the scratch work ran without the BAK cycle"
    return scratch_result.bak


def test_archive_manifest_has_checksums_and_versions(cycle, tmp_path):
    """Read back from the archive itself, not from what backup said it wrote."""
    with tarfile.open(cycle.archive) as tar:
        manifest = json.load(tar.extractfile(MANIFEST))
        found = {m.name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for m in tar if m.name != MANIFEST}
        tar.extract(DB_MEMBER, tmp_path, filter="data")
    listed = {name: entry["sha256"] for name, entry in manifest["files"].items()}
    wrong = sorted(n for n in set(found) | set(listed) if found.get(n) != listed.get(n))
    assert not wrong, f"{len(wrong)} archived file(s) differ from their manifest checksum, first {wrong[0]}"
    for key in ("harness", "jupyterhub", "chart", "context", "namespace", "created"):
        assert manifest.get(key), f"manifest lacks {key}"
    assert integrity(tmp_path / DB_MEMBER) == "ok", "the archived hub database fails integrity_check"


def test_archive_holds_no_secret(cycle):
    secrets = [str(s).encode() for s in [*cycle.secrets, *cycle.deployment.secrets()]]
    with tarfile.open(cycle.archive) as tar:
        for member in tar:
            data = tar.extractfile(member).read()
            assert not [s for s in secrets if s in data], f"a secret is in {member.name}"


def test_user_records_come_back(cycle):
    after = user_records(cycle.deployment)
    for name in BAK_USERS:
        assert after.get(name) == cycle.records[name], f"{name}'s record differs after restore"


def test_restored_database_passes_integrity_check(cycle):
    fact = cycle.deployment.hub_database_integrity()
    assert fact, fact.detail


def test_files_come_back_byte_for_byte(cycle):
    for path, data in BAK_FILES.items():
        assert sha(cycle.files.get(path)) == sha(data), f"bak-ann's {path} differs after restore"


def test_file_written_during_backup_comes_back_whole(cycle):
    # Saves overlap the backup on a quick machine, not on every run (the count is in the
    # message); a writer that died, though, proves nothing.
    assert cycle.writer_error is None, f"the writer of busy.txt stopped: {cycle.writer_error}"
    restored = cycle.files.get("busy.txt")
    assert restored in cycle.versions, (
        f"busy.txt came back as no version that was ever written ({cycle.saved_during_backup} saved during the backup)"
    )


def test_corrupted_archive_is_refused_untouched(cycle, scratch, tmp_path):
    """A well-formed archive whose notes.txt was changed after its manifest was written:
    only the manifest's checksums can tell."""
    broken = tmp_path / "corrupted.tar.gz"
    with tarfile.open(cycle.archive) as source, tarfile.open(broken, "w:gz") as out:
        for member in source:
            data = source.extractfile(member).read()
            if member.name.endswith("/notes.txt"):
                data = data.replace("✓".encode(), b"x")
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    hub_before = cycle.deployment.hub_instance()
    with pytest.raises(HarnessError, match="refused"):
        scratch.restore(broken, force=True)
    assert cycle.deployment.hub_instance() == hub_before, "the hub was touched"
    assert sha(cycle.files.get("notes.txt")) == sha(BAK_FILES["notes.txt"])
