"""RMV: remove keeps user data; --purge leaves nothing; both can be run twice."""

import pytest

from fixtures.scratch import spawn

pytestmark = pytest.mark.check("RMV")


@pytest.fixture(scope="module")
def ports(scratch):
    """A user with a running server and a file, then the ports to watch."""
    _, contents = spawn(scratch.deployment(), "rmv-cat")
    contents.put("keep-me.txt", b"user data\n")
    return scratch.ports()


def test_remove_keeps_user_data(scratch, ports):
    scratch.remove()
    kept = scratch.user_data_kept()
    assert kept, kept.detail
    running = [left for left in scratch.leftovers(ports) if not left.startswith("state dir")]
    assert not running, f"still running after remove: {running}"


def test_remove_twice_is_harmless(scratch):
    scratch.remove()
    assert scratch.user_data_kept()


def test_purge_leaves_nothing(scratch, ports):
    scratch.remove(purge=True)
    assert scratch.leftovers(ports) == []


def test_removing_what_is_not_deployed_says_so(scratch):
    assert "nothing deployed" in scratch.remove(purge=True)
