"""Which processes are a namespace's: found by their folder and environment markers."""

from hubharness.procs import carries


def test_a_namespaces_marker_is_not_found_in_a_namespace_whose_name_it_begins():
    assert carries("/tmp/hh/ld", "/tmp/hh/ld")
    assert carries("/tmp/hh/ld/home/alice", "/tmp/hh/ld")
    assert not carries("/tmp/hh/ldtraf", "/tmp/hh/ld")
    assert not carries("/tmp/hh/ld-scratch", "/tmp/hh/ld")
    assert carries("http://127.0.0.1:8000/hub/api", "127.0.0.1:8000/")
    assert not carries("http://127.0.0.1:18000/hub/api", "127.0.0.1:1800")
