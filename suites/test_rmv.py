"""RMV: remove keeps user data; --purge leaves nothing; both can be run twice.

On the scratch namespace, where a user (rmv-cat) has a running server and a file.
"""

import pytest

from fixtures.scratch import RMV_USER

pytestmark = pytest.mark.check("RMV")


@pytest.fixture(scope="module")
def footprint(scratch_result):
    assert scratch_result.rmv_footprint is not None, "the scratch work ran without the RMV preparation"
    return scratch_result.rmv_footprint


def test_remove_keeps_user_data(scratch, footprint):
    scratch.remove()
    kept = scratch.user_data_kept(RMV_USER, footprint)
    assert kept, kept.detail
    running = [left for left in scratch.leftovers(footprint) if not left.startswith(("state dir", "state:"))]
    assert not running, f"still running after remove: {running}"


def test_remove_twice_is_harmless(scratch, footprint):
    scratch.remove()
    scratch.remove()
    kept = scratch.user_data_kept(RMV_USER, footprint)
    assert kept, kept.detail


def test_purge_leaves_nothing(scratch, footprint):
    scratch.remove(purge=True)
    assert scratch.leftovers(footprint) == []


def test_removing_what_is_not_deployed_says_so(scratch, footprint):
    scratch.remove(purge=True)
    said = scratch.remove(purge=True).message
    assert "nothing deployed" in said, f"remove of a purged namespace said: {said}"
