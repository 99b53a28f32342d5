"""How many bytes a set of objects takes in the store, counting each chunk once: what ``git model
du`` shows as stored bytes and the dedup ratio (logical / stored). No hashing: it reads the
recipes and the pack indexes, and stats whole objects."""

from __future__ import annotations

import os
from collections.abc import Iterable

from gitmodel.hashing import OID_PREFIX
from gitmodel.store.objects import ObjectStore
from gitmodel.store.packgc import read_recipes
from gitmodel.store.packs import ChunkIndex


class StoredBytes:
    """The store read once; :meth:`of` answers for any set of oids."""

    def __init__(self, store: ObjectStore) -> None:
        self.recipes, self.problems = read_recipes(store.root)
        self.chunks = ChunkIndex.load(store.packs_dir)
        self.whole: dict[str, int] = {}
        objects = store.root / "objects"
        try:
            prefixes = list(os.scandir(objects))
        except FileNotFoundError:
            prefixes = []
        for prefix in prefixes:
            if not prefix.is_dir(follow_symlinks=False) or len(prefix.name) != 2:
                continue
            for entry in os.scandir(prefix.path):
                try:
                    self.whole[OID_PREFIX + prefix.name + entry.name] = entry.stat().st_size
                except FileNotFoundError:
                    continue
        self.on_disk = _disk_bytes(store)

    def of(self, oids: Iterable[str]) -> int:
        """Bytes ``oids`` take together: whole objects' sizes plus each chunk they name that a
        pack holds, once (an oid held both ways, mid-repack, counts as its whole object)."""
        seen: set[bytes] = set()
        total = 0
        for oid in set(oids):
            if oid in self.whole:
                total += self.whole[oid]
                continue
            recipe = self.recipes.get(oid)
            if recipe is None:
                continue
            for chunk_id, length in recipe.chunks:
                if chunk_id not in seen and chunk_id in self.chunks:
                    seen.add(chunk_id)
                    total += length
        return total

    def logical(self, oid: str) -> int:
        if oid in self.whole:
            return self.whole[oid]
        recipe = self.recipes.get(oid)
        return recipe.size if recipe is not None else 0


def _disk_bytes(store: ObjectStore) -> int:
    """Bytes of objects, recipes, digests and packs on disk: what the store really takes."""
    total = 0
    for folder in ("objects", "recipes", "blake3", "packs"):
        for dirpath, _dirs, names in os.walk(store.root / folder):
            for name in names:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except FileNotFoundError:
                    continue
    return total
