"""Real-pixel sources of the embedded dataset: object cut-outs and textures from bundled photos.

Every image comes from files shipped inside the scikit-image wheel (``skimage.data``); none is
downloaded. Licences: chelsea, coffee, horse, brick, grass, gravel and retina are CC0; astronaut,
rocket and hubble_deep_field are public domain; coins and immunohistochemistry carry "no known
copyright restrictions". See ``docs/embedded_dataset.md``.
"""
import functools
from dataclasses import dataclass

import numpy as np
import skimage.data
from PIL import Image
from scipy import ndimage
from skimage import draw, filters, measure, segmentation

# Longest side, in pixels, that a template or texture keeps after loading. Objects are never
# pasted larger than this, so shrinking once here keeps per-object resizing cheap.
MAX_TEMPLATE_SIDE = 256
MAX_TEXTURE_SIDE = 512

# Hand-traced outlines in the source photo's pixel coordinates, (x, y) per vertex.
CAT_OUTLINE = [(45, 0), (100, 15), (330, 10), (395, 0), (365, 70), (365, 170), (340, 250),
               (300, 299), (20, 299), (0, 240), (10, 120), (35, 60)]
PERSON_OUTLINE = [(225, 14), (265, 20), (292, 45), (300, 80), (298, 125), (290, 150), (305, 185),
                  (330, 235), (352, 280), (360, 330), (330, 342), (295, 360), (280, 400),
                  (275, 511), (25, 511), (20, 420), (25, 320), (40, 265), (80, 235), (112, 205),
                  (115, 175), (150, 150), (160, 120), (152, 70), (170, 35), (195, 20)]
SHUTTLE_OUTLINE = [(400, 20), (418, 0), (432, 10), (440, 45), (450, 190), (470, 240), (462, 275),
                   (372, 278), (357, 230), (382, 190), (383, 85), (395, 45)]
FALCON_OUTLINE = [(315, 133), (322, 125), (330, 133), (336, 180), (337, 390), (308, 390),
                  (309, 180)]
# The coffee cup is the union of the saucer and the cup's rim: (centre row, centre col, radii).
CUP_ELLIPSES = [(228, 278, 158, 202), (110, 290, 95, 120)]
# Coins smaller than this many pixels in ``skimage.data.coins()`` are segmentation debris.
MIN_COIN_AREA = 500


@dataclass(frozen=True)
class ObjectTemplate:
    """One object cut out of a photo.

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` uint8 pixels of the object's bounding box.
        mask (np.ndarray): ``(H, W)`` bool, True on the object.
        grayscale (bool): Whether the photo had no colour (the renderer tints it).
    """
    rgb: np.ndarray
    mask: np.ndarray
    grayscale: bool


@dataclass(frozen=True)
class SourceLibrary:
    """Everything the scene generator draws pixels from.

    Args:
        photo_objects (dict[str, list[ObjectTemplate]]): Cut-outs per photo-based category.
        silhouettes (dict[str, list[np.ndarray]]): Bool masks per silhouette category; the
            renderer fills them with a texture.
        fill_textures (list[np.ndarray]): ``(H, W, 3)`` uint8 colour textures for silhouettes
            and geometric shapes.
        background_textures (list[np.ndarray]): ``(H, W)`` uint8 grey textures, tinted per
            image.
        fill_texture_names (tuple[str]): a name per fill texture.
        background_texture_names (tuple[str]): a name per background texture.
    """
    photo_objects: dict[str, list[ObjectTemplate]]
    silhouettes: dict[str, list[np.ndarray]]
    fill_textures: list[np.ndarray]
    background_textures: list[np.ndarray]
    fill_texture_names: tuple[str, ...] = ()
    background_texture_names: tuple[str, ...] = ()


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale ``image`` (uint8, grey or RGB) so that its longest side is at most ``max_side``."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _template_from_mask(photo: np.ndarray, mask: np.ndarray) -> ObjectTemplate:
    """Crop ``photo`` and ``mask`` to the mask's tight box and shrink them for fast reuse."""
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    grayscale = photo.ndim == 2
    rgb = np.stack([photo] * 3, axis=-1) if grayscale else photo
    rgb = _shrink(np.ascontiguousarray(rgb[top:bottom, left:right]), MAX_TEMPLATE_SIDE)
    mask_image = Image.fromarray(mask[top:bottom, left:right].astype(np.uint8) * 255)
    mask_image = mask_image.resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.BILINEAR)
    small_mask = np.asarray(mask_image) > 127
    return ObjectTemplate(_read_only(rgb), _read_only(small_mask), grayscale)


def _polygon_mask(shape: tuple[int, int], outline: list[tuple[int, int]]) -> np.ndarray:
    cols, rows = zip(*outline)
    mask = np.zeros(shape, dtype=bool)
    mask[draw.polygon(rows, cols, shape=shape)] = True
    return mask


def _cup_template() -> ObjectTemplate:
    photo = skimage.data.coffee()
    mask = np.zeros(photo.shape[:2], dtype=bool)
    for row, col, row_radius, col_radius in CUP_ELLIPSES:
        mask[draw.ellipse(row, col, row_radius, col_radius, shape=mask.shape)] = True
    return _template_from_mask(photo, mask)


def _coin_templates() -> list[ObjectTemplate]:
    """Segment every coin of ``skimage.data.coins()`` (watershed on the Sobel edges)."""
    photo = skimage.data.coins()
    markers = np.zeros_like(photo)
    markers[photo < 30] = 1
    markers[photo > 150] = 2
    foreground = segmentation.watershed(filters.sobel(photo), markers) == 2
    labels = measure.label(ndimage.binary_fill_holes(foreground))
    return [_template_from_mask(photo, labels == region.label)
            for region in measure.regionprops(labels) if region.area >= MIN_COIN_AREA]


@functools.cache
def load_source_library() -> SourceLibrary:
    """Load and cut the bundled photos once per process (about 0.5 s).

    Returns:
        SourceLibrary: Read-only templates and textures.
    """
    astronaut = skimage.data.astronaut()
    photo_objects = {
        'cat': [_template_from_mask(skimage.data.chelsea(),
                                    _polygon_mask((300, 451), CAT_OUTLINE))],
        'cup': [_cup_template()],
        'person': [_template_from_mask(astronaut, _polygon_mask((512, 512), PERSON_OUTLINE))],
        'rocket': [
            _template_from_mask(astronaut, _polygon_mask((512, 512), SHUTTLE_OUTLINE)),
            _template_from_mask(skimage.data.rocket(), _polygon_mask((427, 640), FALCON_OUTLINE)),
        ],
        'coin': _coin_templates(),
    }
    horse = ~skimage.data.horse()
    rows, cols = np.nonzero(horse)
    silhouettes = {'horse': [_read_only(horse[rows.min():rows.max() + 1,
                                              cols.min():cols.max() + 1].copy())]}
    fill_textures = {
        'hubble deep field': skimage.data.hubble_deep_field(),
        'immunohistochemistry': skimage.data.immunohistochemistry(),
        'retina': skimage.data.retina()[300:1100, 300:1100],
        'wooden table': skimage.data.coffee()[60:400, 440:600],
        'cat fur': skimage.data.chelsea()[60:260, 40:200],
    }
    background_textures = {'brick': skimage.data.brick(), 'grass': skimage.data.grass(),
                           'gravel': skimage.data.gravel()}
    return SourceLibrary(
        photo_objects=photo_objects,
        silhouettes=silhouettes,
        fill_textures=[_read_only(_shrink(np.ascontiguousarray(texture), MAX_TEXTURE_SIDE))
                       for texture in fill_textures.values()],
        background_textures=[_read_only(texture) for texture in background_textures.values()],
        fill_texture_names=tuple(fill_textures),
        background_texture_names=tuple(background_textures),
    )
