"""A corrupted image set as downloaded or generated: ``<root>/<corruption>/<severity>/...``.

Two layouts are read, told apart per image, not by a switch:

- ``tools/make_coco_c.py``'s (COCO-C): below the severity folder, the image's path relative to the
  dataset's image root (for COCO, the file name);
- ImageNet-C's: below the severity folder, ``<wnid>/<file>.JPEG``, the split's class folders. An
  image whose relative path is not there is looked up by its file name in any folder below the
  severity (ImageNet's validation file names are unique), so a flat ``val/`` with an annotation
  file finds its class-folder copy.

:meth:`CorruptedDirectory.check` finds everything a run would miss before any inference.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple


class CorruptedDirectoryError(ValueError):
    """A corrupted image set that lacks what a run needs."""


class CorruptedDirectory:
    """Where the corrupted copy of an image lies in a corrupted image set.

    Args:
        root (str): the set's root, holding one folder per corruption.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._index: Dict[Tuple[str, int], Tuple[Set[str], Dict[str, str]]] = {}

    def folder(self, corruption: str, severity: int) -> str:
        return osp.join(self.root, corruption, str(severity))

    def find(self, corruption: str, severity: int, key: str) -> Optional[str]:
        """The path of the copy of the image named ``key`` (relative to its image root, '/'
        separators), or None."""
        paths, names = self._files(corruption, severity)
        relative = key if key in paths else names.get(key.rsplit('/', 1)[-1])
        return osp.join(self.folder(corruption, severity), *relative.split('/')) if relative else None

    def _files(self, corruption: str, severity: int) -> Tuple[Set[str], Dict[str, str]]:
        """Every file below the severity folder, as '/'-separated paths relative to it, and file
        name -> that path (read once per folder; a name found twice maps to nothing, since it cannot
        tell the images apart)."""
        cell = (corruption, severity)
        if cell not in self._index:
            paths: Set[str] = set()
            names: Dict[str, Optional[str]] = {}
            base = self.folder(corruption, severity)
            for folder, _, files in os.walk(base):
                for name in files:
                    relative = osp.relpath(osp.join(folder, name), base).replace(os.sep, '/')
                    paths.add(relative)
                    names[name] = None if name in names else relative
            self._index[cell] = (paths, {name: path for name, path in names.items() if path})
        return self._index[cell]

    def check(self, cells: Iterable[Tuple[str, int]], keys: Sequence[str]) -> None:
        """Raise :class:`CorruptedDirectoryError` with one line naming what is missing: whole
        corruptions, whole severities, and per cell the count and the first missing image."""
        if not osp.isdir(self.root):
            raise CorruptedDirectoryError(f'--corrupted-dir {self.root} is not a directory')
        problems: List[str] = []
        missing_corruptions = set()
        for corruption, severity in cells:
            if not osp.isdir(osp.join(self.root, corruption)):
                if corruption not in missing_corruptions:
                    missing_corruptions.add(corruption)
                    problems.append(f'no {corruption}/ folder')
                continue
            if not osp.isdir(self.folder(corruption, severity)):
                problems.append(f'no {corruption}/{severity}/ folder')
                continue
            absent = [key for key in keys if self.find(corruption, severity, key) is None]
            if absent:
                problems.append(f'{corruption}/{severity}/ lacks {len(absent)} of {len(keys)} '
                                f'images (first: {absent[0]})')
        if problems:
            shown = '; '.join(problems[:6]) + (f'; and {len(problems) - 6} more' if len(problems) > 6
                                               else '')
            raise CorruptedDirectoryError(
                f'--corrupted-dir {self.root} is incomplete for this run: {shown} (layout: '
                '<corruption>/<severity>/<image path> as tools/make_coco_c.py writes it, or '
                "ImageNet-C's <corruption>/<severity>/<wnid>/<file>)")
