"""RFC 6962 Merkle tree hashing (as RFC 9162 restates it): leaves, the tree head of any prefix of the
log, inclusion proofs and their verification.

    leaf  = SHA-256(0x00 || entry)
    node  = SHA-256(0x01 || left || right)
"""

from __future__ import annotations

from hashlib import sha256
from typing import Iterable, Sequence

HASH_BYTES = 32
EMPTY_ROOT = sha256(b"").digest()  # RFC 6962 §2.1: the hash of an empty list


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


class Frontier:
    """The roots of the perfect subtrees that make up a tree of `size` leaves, largest first.

    Appending a leaf costs one hash on average; the root folds at most log2(size) hashes. This is what
    the log head stores, so an appender never rereads the log."""

    __slots__ = ("size", "stack")

    def __init__(self, size: int = 0, stack: list[bytes] | None = None) -> None:
        self.size = size
        self.stack = stack if stack is not None else []
        if len(self.stack) != bin(size).count("1"):
            raise ValueError("frontier does not match its size")

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> "Frontier":
        return cls(size, [packed[i : i + HASH_BYTES] for i in range(0, len(packed), HASH_BYTES)])

    def to_bytes(self) -> bytes:
        return b"".join(self.stack)

    def append(self, leaf: bytes) -> None:
        h, s, stack = leaf, self.size, self.stack
        while s & 1:
            h = sha256(b"\x01" + stack.pop() + h).digest()
            s >>= 1
        stack.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf: each aligned run of 2**k leaves is hashed level by level into its subtree
        root and joins the frontier as one node (n - 1 node hashes for n leaves, as appending each
        leaf would do, without the per-leaf walk of the stack)."""
        self.join(subtrees(self.size, list(leaves)))

    def join(self, roots: Sequence[tuple[bytes, int]]) -> None:
        """Add perfect subtrees, each (root, width), as `subtrees` gives them for this size."""
        for node, width in roots:
            if self.size % width:
                raise ValueError(f"a subtree of {width} leaves cannot follow {self.size} leaves")
            self._join(node, width)

    def _join(self, node: bytes, width: int) -> None:
        """Add the root of a perfect subtree of `width` leaves (a power of two dividing the size)."""
        h, s, stack = node, self.size // width, self.stack
        while s & 1:
            h = sha256(b"\x01" + stack.pop() + h).digest()
            s >>= 1
        stack.append(h)
        self.size += width

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        r = self.stack[-1]
        for h in reversed(self.stack[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> "Frontier":
        return Frontier(self.size, list(self.stack))


def _subtree_root(level: list[bytes]) -> bytes:
    """The root of a perfect subtree (len(level) a power of two)."""
    while len(level) > 1:
        level = [sha256(b"\x01" + level[j] + level[j + 1]).digest() for j in range(0, len(level), 2)]
    return level[0]


def subtrees(size: int, leaves: Sequence[bytes]) -> list[tuple[bytes, int]]:
    """The perfect subtrees, (root, width) in order, that `leaves` form when appended to a tree of
    `size` leaves. They depend on the size alone, not on the tree's hashes, so a writer can hash a
    block before its transaction and join the roots to the frontier it then reads."""
    roots, i, n = [], 0, len(leaves)
    while i < n:
        width = size & -size or 1 << 62  # the largest subtree that may start here
        while width > n - i:
            width >>= 1
        roots.append((leaves[i] if width == 1 else _subtree_root(list(leaves[i : i + width])), width))
        i += width
        size += width
    return roots


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]) over leaf hashes."""
    f = Frontier()
    f.extend(leaves)
    return f.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]) for leaf `index` in the tree of all `leaves`."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index outside the tree")
    path: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(tree_hash(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(tree_hash(leaves[lo : lo + k]))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root the path leads to, or None when the path cannot fit the tree."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
