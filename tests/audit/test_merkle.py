"""RFC 6962 Merkle tree hashing: the incremental Frontier against the recursive definition, and
inclusion proofs."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given, settings, strategies as st

from auditor.audit import merkle


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH over leaf hashes, exactly as the RFC writes it (recursive, no shortcuts)."""
    n = len(leaves)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:  # the largest power of two smaller than n
        k *= 2
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), recursive."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return rfc_path(m, leaves[:k]) + [mth(leaves[k:])]
    return rfc_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def leaves_of(n: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def flip(b: bytes, at: int = 0) -> bytes:
    return b[:at] + bytes([b[at] ^ 0x01]) + b[at + 1:]


# -- known answers ------------------------------------------------------------------------------------
def test_leaf_and_node_hash_prefixes():
    assert merkle.leaf_hash(b"abc") == sha256(b"\x00abc").digest()
    a, b = sha256(b"a").digest(), sha256(b"b").digest()
    assert merkle.node_hash(a, b) == sha256(b"\x01" + a + b).digest()
    assert merkle.leaf_hash(b"") == bytes.fromhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")


def test_empty_root_is_hash_of_empty_string():
    assert merkle.EMPTY_ROOT == sha256(b"").digest()
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.tree_hash([]) == merkle.EMPTY_ROOT
    assert merkle.Frontier().root() == merkle.EMPTY_ROOT


def test_one_leaf_root_is_the_leaf_hash_itself():
    leaf = merkle.leaf_hash(b"only entry")
    assert merkle.tree_hash([leaf]) == leaf  # not sha256(0x01 || leaf): MTH of one entry is its leaf hash
    f = merkle.Frontier()
    f.append(leaf)
    assert f.root() == leaf and f.size == 1


def test_two_and_three_leaf_roots_by_hand():
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    ab = sha256(b"\x01" + a + b).digest()
    assert merkle.tree_hash([a, b]) == ab
    assert merkle.tree_hash([a, b, c]) == sha256(b"\x01" + ab + c).digest()  # left subtree is the largest power of 2


# -- Frontier / tree_hash against the recursive definition -------------------------------------------
def test_frontier_matches_recursive_mth_for_every_prefix_up_to_70():
    leaves = leaves_of(70)
    f = merkle.Frontier()
    assert f.root() == mth([])
    for n in range(1, 71):
        f.append(leaves[n - 1])
        assert f.size == n
        assert len(f.stack) == bin(n).count("1")
        assert f.root() == mth(leaves[:n]), n
        assert merkle.tree_hash(leaves[:n]) == mth(leaves[:n]), n


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=0, max_value=1500), salt=st.binary(max_size=8))
def test_tree_hash_matches_recursive_mth_for_random_sizes(n, salt):
    leaves = leaves_of(n, salt)
    assert merkle.tree_hash(leaves) == mth(leaves)


@settings(max_examples=40, deadline=None)
@given(entries=st.lists(st.binary(max_size=40), max_size=80))
def test_tree_hash_matches_for_arbitrary_entries(entries):
    leaves = [merkle.leaf_hash(e) for e in entries]
    assert merkle.tree_hash(leaves) == mth(leaves)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=600), cut=st.integers(min_value=0, max_value=600))
def test_frontier_round_trips_through_bytes_and_continues(n, cut):
    cut = min(cut, n)
    leaves = leaves_of(n)
    f = merkle.Frontier()
    f.extend(leaves[:cut])
    packed = f.to_bytes()
    assert len(packed) == 32 * bin(cut).count("1")
    g = merkle.Frontier.from_bytes(cut, packed)
    assert g.size == cut and g.stack == f.stack and g.to_bytes() == packed and g.root() == f.root()
    g.extend(leaves[cut:])  # a restored frontier keeps appending correctly (what the log head relies on)
    assert g.root() == mth(leaves) and g.size == n


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=600), cut=st.integers(min_value=0, max_value=600))
def test_subtrees_hashed_from_the_size_alone_join_to_the_same_tree(n, cut):
    cut = min(cut, n)
    leaves = leaves_of(n)
    roots = merkle.subtrees(cut, leaves[cut:])  # before the tree's own hashes are known (a writer's block)
    assert sum(width for _, width in roots) == n - cut
    f = merkle.Frontier()
    f.extend(leaves[:cut])
    f.join(roots)
    assert f.root() == mth(leaves) and f.size == n


def test_a_subtree_that_does_not_fit_the_size_is_refused():
    roots = merkle.subtrees(4, leaves_of(4))  # one subtree of 4, which may follow 4 leaves but not 2
    f = merkle.Frontier()
    f.extend(leaves_of(2))
    with pytest.raises(ValueError):
        f.join(roots)


def test_frontier_copy_is_independent():
    f = merkle.Frontier()
    f.extend(leaves_of(5))
    c = f.copy()
    c.append(merkle.leaf_hash(b"x"))
    assert f.size == 5 and c.size == 6 and f.root() == mth(leaves_of(5))


def test_frontier_rejects_a_stack_that_does_not_match_its_size():
    f = merkle.Frontier()
    f.extend(leaves_of(6))  # 6 = 0b110: two subtrees
    with pytest.raises(ValueError):
        merkle.Frontier.from_bytes(7, f.to_bytes())
    with pytest.raises(ValueError):
        merkle.Frontier.from_bytes(6, f.to_bytes()[:32])
    with pytest.raises(ValueError):
        merkle.Frontier(0, [b"\x00" * 32])


# -- inclusion proofs ---------------------------------------------------------------------------------
SIZES = list(range(1, 41)) + [63, 64, 65, 100, 127, 128, 129, 255, 257]


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_path_verifies_for_every_index(n):
    leaves = leaves_of(n)
    root = mth(leaves)
    for i in range(n):
        path = merkle.inclusion_path(leaves, i)
        assert path == rfc_path(i, leaves), (n, i)
        assert merkle.root_from_inclusion(leaves[i], i, n, path) == root, (n, i)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=3000))
def test_inclusion_path_verifies_for_random_sizes(data, n):
    leaves = leaves_of(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_path(leaves, i)
    assert merkle.root_from_inclusion(leaves[i], i, n, path) == merkle.tree_hash(leaves)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 8, 13, 16, 31, 33, 64, 65])
def test_wrong_index_size_path_or_leaf_does_not_verify(n):
    more = leaves_of(n + 3)
    leaves = more[:n]
    root = mth(leaves)
    for i in range(n):
        path = merkle.inclusion_path(leaves, i)
        # a wrong index
        for j in range(n):
            if j != i:
                assert merkle.root_from_inclusion(leaves[i], j, n, path) != root, (n, i, j)
        assert merkle.root_from_inclusion(leaves[i], -1, n, path) is None
        assert merkle.root_from_inclusion(leaves[i], n, n, path) is None
        # a wrong size: the path does not lead to the root of a tree of that size. (It may still lead to
        # `root` when both sizes give leaf i the same path shape, e.g. leaf 0 of 3 and of 4: the size is
        # bound to the root by the signed checkpoint, which test_proofs covers.)
        for m in range(1, n + 4):
            if m != n:
                assert merkle.root_from_inclusion(leaves[i], i, m, path) != mth(more[:m]), (n, i, m)
        # an altered path element, a dropped one, an extra one
        for k in range(len(path)):
            bad = list(path)
            bad[k] = flip(bad[k], k % 32)
            assert merkle.root_from_inclusion(leaves[i], i, n, bad) != root, (n, i, k)
        if path:
            assert merkle.root_from_inclusion(leaves[i], i, n, path[:-1]) != root
        assert merkle.root_from_inclusion(leaves[i], i, n, path + [leaves[0]]) != root
        # an altered leaf, or another leaf of the tree at this position
        assert merkle.root_from_inclusion(flip(leaves[i]), i, n, path) != root
        assert merkle.root_from_inclusion(leaves[(i + 1) % n], i, n, path) != root


def test_single_leaf_tree_has_empty_path():
    leaf = merkle.leaf_hash(b"x")
    assert merkle.inclusion_path([leaf], 0) == []
    assert merkle.root_from_inclusion(leaf, 0, 1, []) == leaf
    assert merkle.root_from_inclusion(leaf, 0, 1, [leaf]) is None  # a path too long for the tree
    assert merkle.root_from_inclusion(leaf, 0, 0, []) is None


def test_inclusion_path_rejects_index_outside_tree():
    leaves = leaves_of(4)
    for bad in (-1, 4, 10):
        with pytest.raises(IndexError):
            merkle.inclusion_path(leaves, bad)
    with pytest.raises(IndexError):
        merkle.inclusion_path([], 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 70), st.lists(st.integers(0, 300), max_size=5))
def test_extending_by_runs_is_appending_leaf_by_leaf(start, runs):
    leaves = [bytes([i % 256, i // 256]) * 16 for i in range(start + sum(runs))]
    one_by_one, by_runs = merkle.Frontier(), merkle.Frontier()
    for leaf in leaves:
        one_by_one.append(leaf)
    by_runs.extend(leaves[:start])
    at = start
    for run in runs:
        by_runs.extend(leaves[at : at + run])
        at += run
        prefix = merkle.Frontier()
        for leaf in leaves[:at]:
            prefix.append(leaf)
        assert (by_runs.size, by_runs.stack) == (prefix.size, prefix.stack)
    assert (by_runs.size, by_runs.stack, by_runs.root()) == (one_by_one.size, one_by_one.stack, one_by_one.root())
