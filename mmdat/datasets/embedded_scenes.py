"""The scenes of the embedded dataset: deterministic real-pixel images for detection and
classification (``embedded_generate`` writes them to disk).

Objects are cut out of photos bundled with scikit-image (see ``embedded_sources``), or are a
silhouette or a geometric shape filled with a photo texture. They are pasted on tinted real
textures at random scales, positions and rotations. A box is the tight box of the object's
visible mask, and an area is its visible pixel count. Only numpy, scipy, scikit-image, PIL and
PIL are used here.
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw
from skimage.color import hsv2rgb

from .embedded_sources import SourceLibrary

CATEGORIES: tuple[str, ...] = ('cat', 'cup', 'person', 'rocket', 'coin', 'horse', 'triangle',
                               'square')
MAX_OBJECTS_PER_IMAGE = 6
# Detection object sizes: (probability, low, high) bands of the longest side as a fraction of
# the image side, log-uniform within a band; at 160 px they give all three COCO size classes.
DET_SIZE_BANDS = ((0.35, 0.08, 0.2), (0.35, 0.2, 0.6), (0.3, 0.8, 1.0))
# Longest object side as a fraction of the image side (classification).
CLS_OBJECT_FRACTION = (0.55, 0.85)
# An object is never rendered thinner than this many pixels.
MIN_OBJECT_SIDE = 4
# A placement is re-drawn if it would leave an earlier object less visible than this.
MIN_VISIBLE_FRACTION = 0.6
PLACEMENT_ATTEMPTS = 12
SHAPE_CATEGORIES = ('triangle', 'square')
# Max rotation in degrees per kind of object; shapes turn freely.
MAX_ROTATION = {'photo': 15.0, 'silhouette': 10.0, 'triangle': 180.0, 'square': 45.0}
METAL_TINTS = ((1.0, 0.82, 0.5), (0.92, 0.95, 1.0), (0.9, 0.62, 0.42))
SHAPE_CANVAS = 128


@dataclass(frozen=True)
class ObjectAnnotation:
    """A pasted object as it is visible in the final image.

    Args:
        category_index (int): Index into :data:`CATEGORIES`.
        bbox (tuple[int, int, int, int]): Tight box ``(x, y, width, height)`` of the visible
            pixels; the box covers pixel columns ``x .. x + width - 1``.
        area (int): Number of visible pixels.
        full_area (int): Number of pixels the object had before later objects covered it.
    """
    category_index: int
    bbox: tuple[int, int, int, int]
    area: int
    full_area: int


@dataclass(frozen=True)
class DetectionScene:
    """A generated detection image.

    Args:
        image (np.ndarray): ``(S, S, 3)`` uint8 RGB image.
        objects (list[ObjectAnnotation]): The pasted objects, in paste order.
        instance_map (np.ndarray): ``(S, S)`` int32; the index into ``objects`` of the object
            visible at each pixel, -1 on the background.
    """
    image: np.ndarray
    objects: list[ObjectAnnotation]
    instance_map: np.ndarray


class CategoryDeck:
    """Draws categories from successive shuffled decks so that counts stay balanced.

    Args:
        num_categories (int): Number of categories in a deck.
        rng (np.random.Generator): Source of randomness.
    """

    def __init__(self, num_categories: int, rng: np.random.Generator) -> None:
        self.num_categories = num_categories
        self.rng = rng
        self._remaining: list[int] = []

    def draw(self) -> int:
        """Return the next category index."""
        if not self._remaining:
            self._remaining = self.rng.permutation(self.num_categories).tolist()
        return self._remaining.pop()


def _resize(image: np.ndarray, width: int, height: int, resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), resample))


def _texture_patch(library: SourceLibrary, rng: np.random.Generator, height: int,
                   width: int, texture_index: Optional[int] = None) -> np.ndarray:
    """Cut a random window of a colour texture (a random one, or ``fill_textures[texture_index]``),
    resized to ``(height, width)``."""
    index = rng.integers(len(library.fill_textures))
    texture = library.fill_textures[index if texture_index is None else texture_index]
    texture_height, texture_width = texture.shape[:2]
    scale = rng.uniform(0.3, 1.0) * min(texture_height / height, texture_width / width)
    crop_height = max(1, min(texture_height, round(height * scale)))
    crop_width = max(1, min(texture_width, round(width * scale)))
    top = rng.integers(texture_height - crop_height + 1)
    left = rng.integers(texture_width - crop_width + 1)
    crop = np.ascontiguousarray(texture[top:top + crop_height, left:left + crop_width])
    return _resize(crop, width, height, Image.Resampling.BILINEAR)


def _shape_mask(category: str, rng: np.random.Generator) -> np.ndarray:
    """A filled triangle (jittered equilateral) or square, drawn on a ``SHAPE_CANVAS`` grid and
    cropped to its tight box."""
    if category == 'square':
        return np.ones((SHAPE_CANVAS, SHAPE_CANVAS), dtype=bool)
    angles = np.deg2rad(90 + 120 * np.arange(3) + rng.uniform(-20, 20, size=3))
    radii = rng.uniform(0.8, 1.0, size=3) * SHAPE_CANVAS / 2
    cols = SHAPE_CANVAS / 2 + radii * np.cos(angles)
    rows = SHAPE_CANVAS / 2 - radii * np.sin(angles)
    image = Image.new('L', (SHAPE_CANVAS, SHAPE_CANVAS), 0)
    ImageDraw.Draw(image).polygon(list(zip(cols.tolist(), rows.tolist())), fill=255)
    mask = np.asarray(image) > 0
    rows, cols = np.nonzero(mask)
    return mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _jitter_colour(rgb: np.ndarray, rng: np.random.Generator, grayscale: bool) -> np.ndarray:
    """Random brightness, contrast and saturation; grey photos get a metal tint."""
    pixels = rgb.astype(np.float32)
    if grayscale:
        pixels *= np.asarray(METAL_TINTS[rng.integers(len(METAL_TINTS))], dtype=np.float32)
    gray = pixels.mean(axis=-1, keepdims=True)
    pixels = gray + (pixels - gray) * rng.uniform(0.7, 1.3)
    mean = pixels.mean()
    pixels = (pixels - mean) * rng.uniform(0.75, 1.25) + mean
    pixels *= rng.uniform(0.75, 1.25)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render_object(library: SourceLibrary, category: str, rng: np.random.Generator,
                  longest_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one object of ``category`` cropped to its mask's tight box.

    Args:
        library (SourceLibrary): Photos and textures to draw from.
        category (str): One of :data:`CATEGORIES`.
        rng (np.random.Generator): Source of randomness.
        longest_side (int): Longer side in pixels of the rotated object's box (the tight box
            can be a little smaller). Very thin objects grow so that their short side reaches
            ``MIN_OBJECT_SIDE``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(H, W, 3)`` uint8 pixels and ``(H, W)`` bool mask.
    """
    grayscale = False
    if category in library.photo_objects:
        templates = library.photo_objects[category]
        template = templates[rng.integers(len(templates))]
        rgb, mask, grayscale, kind = template.rgb, template.mask, template.grayscale, 'photo'
    elif category in library.silhouettes:
        silhouettes = library.silhouettes[category]
        mask = silhouettes[rng.integers(len(silhouettes))]
        rgb, kind = _texture_patch(library, rng, *mask.shape), 'silhouette'
    elif category in SHAPE_CATEGORIES:
        mask = _shape_mask(category, rng)
        rgb, kind = _texture_patch(library, rng, *mask.shape), category
    else:
        raise ValueError(f'unknown category {category!r}; expected one of {CATEGORIES}')
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    aspect = math.exp(rng.uniform(-0.15, 0.15))
    angle = rng.uniform(-MAX_ROTATION[kind], MAX_ROTATION[kind])
    height, width = mask.shape[0], mask.shape[1] * aspect
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    rotated_side = max(width * cos + height * sin, width * sin + height * cos)
    scale = max(longest_side / rotated_side, MIN_OBJECT_SIDE / min(width, height))
    size = (max(MIN_OBJECT_SIDE, round(width * scale)), max(MIN_OBJECT_SIDE, round(height * scale)))
    rgb_image = Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.Resampling.LANCZOS)
    mask_image = Image.fromarray(np.ascontiguousarray(mask).astype(np.uint8) * 255).resize(
        size, Image.Resampling.BILINEAR)
    rgb = np.asarray(rgb_image.rotate(angle, Image.Resampling.BICUBIC, expand=True))
    mask = np.asarray(mask_image.rotate(angle, Image.Resampling.BILINEAR, expand=True)) >= 128
    rows, cols = np.nonzero(mask)
    box = np.s_[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return _jitter_colour(rgb[box], rng, grayscale), mask[box]


def render_background(library: SourceLibrary, rng: np.random.Generator, image_size: int,
                      texture_index: Optional[int] = None) -> np.ndarray:
    """A random window of a grey texture (a random one, or
    ``background_textures[texture_index]``), flipped/rotated, contrast-jittered and tinted.

    Returns:
        np.ndarray: ``(image_size, image_size, 3)`` uint8 image.
    """
    index = rng.integers(len(library.background_textures))
    texture = library.background_textures[index if texture_index is None else texture_index]
    texture_side = min(texture.shape)
    crop = rng.integers(min(image_size, texture_side), texture_side + 1)
    top = rng.integers(texture.shape[0] - crop + 1)
    left = rng.integers(texture.shape[1] - crop + 1)
    patch = np.rot90(texture[top:top + crop, left:left + crop], k=rng.integers(4))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    patch = _resize(np.ascontiguousarray(patch), image_size, image_size,
                    Image.Resampling.LANCZOS).astype(np.float32) / 255
    patch = (patch - patch.mean()) * rng.uniform(0.5, 1.1) + patch.mean()
    tint = hsv2rgb(np.array([[[rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.7, 1.0)]]]))
    pixels = patch[..., None] * tint[0, 0].astype(np.float32) * rng.uniform(0.9, 1.3) * 255
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _visible_annotations(instance_map: np.ndarray, categories: list[int],
                         full_areas: list[int]) -> list[ObjectAnnotation]:
    annotations = []
    for index, (category_index, full_area) in enumerate(zip(categories, full_areas)):
        rows, cols = np.nonzero(instance_map == index)
        left, top = int(cols.min()), int(rows.min())
        bbox = (left, top, int(cols.max()) - left + 1, int(rows.max()) - top + 1)
        annotations.append(ObjectAnnotation(category_index, bbox, int(rows.size), full_area))
    return annotations


def compose_detection_image(library: SourceLibrary, rng: np.random.Generator, image_size: int,
                            deck: CategoryDeck) -> DetectionScene:
    """Paste 1 to ``MAX_OBJECTS_PER_IMAGE`` objects on a background, largest first.

    Later objects may occlude earlier ones, but a placement that would leave an earlier object
    less than ``MIN_VISIBLE_FRACTION`` visible is re-drawn (``PLACEMENT_ATTEMPTS`` times), after
    which the new object is left out. So every pasted object is annotated and mostly visible.

    Args:
        library (SourceLibrary): Photos and textures to draw from.
        rng (np.random.Generator): Source of randomness.
        image_size (int): Side of the square image in pixels.
        deck (CategoryDeck): Gives the category of each object.

    Returns:
        DetectionScene: The image, its objects and the map of visible object pixels.
    """
    image = render_background(library, rng, image_size)
    instance_map = np.full((image_size, image_size), -1, dtype=np.int32)
    rendered = []
    for _ in range(rng.integers(1, MAX_OBJECTS_PER_IMAGE + 1)):
        category_index = deck.draw()
        band = rng.choice(len(DET_SIZE_BANDS), p=[band[0] for band in DET_SIZE_BANDS])
        low, high = (math.log(fraction * image_size) for fraction in DET_SIZE_BANDS[band][1:])
        longest_side = round(math.exp(rng.uniform(low, high)))
        rgb, mask = render_object(library, CATEGORIES[category_index], rng, longest_side)
        rendered.append((category_index, rgb, mask))
    rendered.sort(key=lambda item: -int(item[2].sum()))  # large ones first, small ones on top
    categories: list[int] = []
    full_areas: list[int] = []
    for category_index, rgb, mask in rendered:
        height, width = mask.shape
        if height > image_size or width > image_size:
            continue
        visible = np.bincount(instance_map.ravel() + 1, minlength=len(categories) + 1)[1:]
        for _attempt in range(PLACEMENT_ATTEMPTS):
            top = rng.integers(image_size - height + 1)
            left = rng.integers(image_size - width + 1)
            region = np.s_[top:top + height, left:left + width]
            covered = instance_map[region][mask]
            lost = np.bincount(covered[covered >= 0], minlength=len(categories))
            if np.all(visible - lost >= MIN_VISIBLE_FRACTION * np.asarray(full_areas)):
                image[region][mask] = rgb[mask]
                instance_map[region][mask] = len(categories)
                categories.append(category_index)
                full_areas.append(int(mask.sum()))
                break
    objects = _visible_annotations(instance_map, categories, full_areas)
    return DetectionScene(image, objects, instance_map)


def compose_classification_image(library: SourceLibrary, rng: np.random.Generator,
                                 image_size: int, category_index: int) -> np.ndarray:
    """One object of the given category near the centre of a background.

    Returns:
        np.ndarray: ``(image_size, image_size, 3)`` uint8 image.
    """
    image = render_background(library, rng, image_size)
    longest_side = round(rng.uniform(*CLS_OBJECT_FRACTION) * image_size)
    rgb, mask = render_object(library, CATEGORIES[category_index], rng, longest_side)
    height, width = (min(side, image_size) for side in mask.shape)
    rgb, mask = rgb[:height, :width], mask[:height, :width]
    jitter = round(0.06 * image_size)
    top = int(np.clip((image_size - height) // 2 + rng.integers(-jitter, jitter + 1), 0,
                      image_size - height))
    left = int(np.clip((image_size - width) // 2 + rng.integers(-jitter, jitter + 1), 0,
                       image_size - width))
    image[top:top + height, left:left + width][mask] = rgb[mask]
    return image


def texture_samples(library: SourceLibrary, per_texture: int, image_size: int,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Images of each texture the generator draws from, as it draws them: tinted windows of each
    background texture (``render_background``) and windows of each colour texture that fills
    silhouettes and shapes, filling the image. Keys are ``SourceLibrary``'s texture names.

    Returns:
        dict: name -> ``(per_texture, image_size, image_size, 3)`` uint8 images.
    """
    rng = np.random.default_rng(seed)
    samples = {}
    for index, name in enumerate(library.background_texture_names):
        samples[name] = np.stack([render_background(library, rng, image_size, index)
                                  for _ in range(per_texture)])
    for index, name in enumerate(library.fill_texture_names):
        samples[name] = np.stack([_texture_patch(library, rng, image_size, image_size, index)
                                  for _ in range(per_texture)])
    return samples
