"""Seeded, deterministic generator of synthetic "shapes" scenes in real OpenMMLab data formats.

A *world* fixes the object classes and the background families a scene is drawn from. Two worlds
ship with the project:

* ``downstream`` -- circle, square, triangle, star, hexagon on gradient / blob / stripe / checker
  backgrounds: the detection, instance-segmentation, semantic-segmentation and classification
  target task;
* ``upstream`` -- ellipse, cross, ring, arrow, trapezoid on wood / marble / grid backgrounds: the
  "pre-training" task a backbone is trained on before it is fine-tuned downstream (the project
  cannot download ImageNet weights).

Every split is a pure function of ``(world, split, index, seed)``: each image gets its own
``numpy.random.Generator`` seeded from those values, so the same arguments give byte-identical
files whatever the order or number of images generated.

The ``val_ood`` split draws the same objects over *unseen* background families and applies one
corruption per image (hue shift, Gaussian noise or blur), so robustness can be measured.
"""
from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    'WORLDS', 'World', 'Scene', 'SceneObject', 'render_scene', 'scene_rng',
]

# ------------------------------------------------------------------------------------------------
# Shapes: each returns a boolean mask of shape (size, size) for an object centred at (cx, cy)
# with "radius" r and rotation `angle` (radians). Polygons are rasterised with PIL.


def _polygon_mask(size: int, points) -> np.ndarray:
    canvas = Image.new('L', (size, size), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(canvas, dtype=bool)


def _rotated(cx, cy, angle, pts):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def _regular(n, r, phase=0.0):
    return [(r * math.cos(phase + 2 * math.pi * k / n), r * math.sin(phase + 2 * math.pi * k / n))
            for k in range(n)]


def _circle(size, cx, cy, r, angle):
    return _polygon_mask(size, _rotated(cx, cy, angle, _regular(40, r)))


def _square(size, cx, cy, r, angle):
    return _polygon_mask(size, _rotated(cx, cy, angle, _regular(4, r * 1.2, math.pi / 4)))


def _triangle(size, cx, cy, r, angle):
    return _polygon_mask(size, _rotated(cx, cy, angle, _regular(3, r * 1.25, -math.pi / 2)))


def _star(size, cx, cy, r, angle):
    pts = [((r if k % 2 == 0 else 0.45 * r) * math.cos(-math.pi / 2 + math.pi * k / 5),
            (r if k % 2 == 0 else 0.45 * r) * math.sin(-math.pi / 2 + math.pi * k / 5))
           for k in range(10)]
    return _polygon_mask(size, _rotated(cx, cy, angle, pts))


def _hexagon(size, cx, cy, r, angle):
    return _polygon_mask(size, _rotated(cx, cy, angle, _regular(6, r)))


def _ellipse(size, cx, cy, r, angle):
    pts = [(r * math.cos(t), 0.5 * r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 40, endpoint=False)]
    return _polygon_mask(size, _rotated(cx, cy, angle, pts))


def _cross(size, cx, cy, r, angle):
    w = 0.35 * r
    pts = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w),
           (-r, -w), (-w, -w)]
    return _polygon_mask(size, _rotated(cx, cy, angle, pts))


def _ring(size, cx, cy, r, angle):
    outer = _polygon_mask(size, _rotated(cx, cy, angle, _regular(40, r)))
    inner = _polygon_mask(size, _rotated(cx, cy, angle, _regular(40, 0.55 * r)))
    return outer & ~inner


def _arrow(size, cx, cy, r, angle):
    pts = [(-r, -0.25 * r), (0.1 * r, -0.25 * r), (0.1 * r, -0.65 * r), (r, 0), (0.1 * r, 0.65 * r),
           (0.1 * r, 0.25 * r), (-r, 0.25 * r)]
    return _polygon_mask(size, _rotated(cx, cy, angle, pts))


def _trapezoid(size, cx, cy, r, angle):
    pts = [(-r, 0.6 * r), (r, 0.6 * r), (0.45 * r, -0.6 * r), (-0.45 * r, -0.6 * r)]
    return _polygon_mask(size, _rotated(cx, cy, angle, pts))


# ------------------------------------------------------------------------------------------------
# Backgrounds: each returns float32 RGB in [0, 1] of shape (size, size, 3).


def _random_colour(rng, sat=(0.4, 1.0), val=(0.35, 1.0)):
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*sat), rng.uniform(*val)),
                    dtype=np.float32)


def _grid(size):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return yy, xx


def _bg_gradient(rng, size):
    yy, xx = _grid(size)
    a, b = _random_colour(rng, val=(0.2, 0.8)), _random_colour(rng, val=(0.2, 0.8))
    t = rng.uniform(0, 2 * math.pi)
    w = (xx * math.cos(t) + yy * math.sin(t))
    w = (w - w.min()) / max(float(np.ptp(w)), 1e-6)
    return a * (1 - w[..., None]) + b * w[..., None]


def _smooth_noise(rng, size, cells):
    coarse = rng.uniform(size=(cells, cells)).astype(np.float32)
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _bg_blobs(rng, size):
    n = _smooth_noise(rng, size, int(rng.integers(3, 7)))
    a, b = _random_colour(rng, val=(0.2, 0.8)), _random_colour(rng, val=(0.2, 0.8))
    return a * (1 - n[..., None]) + b * n[..., None]


def _bg_stripes(rng, size):
    yy, xx = _grid(size)
    t, f = rng.uniform(0, math.pi), rng.uniform(3, 9)
    s = 0.5 + 0.5 * np.sin(2 * math.pi * f * (xx * math.cos(t) + yy * math.sin(t)))
    a, b = _random_colour(rng, val=(0.2, 0.7)), _random_colour(rng, val=(0.3, 0.9))
    return a * (1 - s[..., None]) + b * s[..., None]


def _bg_checker(rng, size):
    yy, xx = _grid(size)
    k = rng.integers(3, 9)
    s = ((np.floor(xx * k) + np.floor(yy * k)) % 2).astype(np.float32)
    a, b = _random_colour(rng, val=(0.2, 0.7)), _random_colour(rng, val=(0.3, 0.9))
    return a * (1 - 0.6 * s[..., None]) + b * 0.6 * s[..., None]


def _bg_wood(rng, size):
    yy, xx = _grid(size)
    n = _smooth_noise(rng, size, 4)
    r = np.sqrt((xx - rng.uniform()) ** 2 + (yy - rng.uniform()) ** 2)
    s = 0.5 + 0.5 * np.sin(2 * math.pi * (8 * r + 2 * n))
    a = np.array([0.45, 0.3, 0.15], np.float32) * rng.uniform(0.7, 1.3)
    return np.clip(a * (0.7 + 0.5 * s[..., None]), 0, 1)


def _bg_marble(rng, size):
    yy, xx = _grid(size)
    n = _smooth_noise(rng, size, 6)
    s = 0.5 + 0.5 * np.sin(2 * math.pi * (3 * xx + 4 * n))
    g = rng.uniform(0.5, 0.9)
    return np.repeat((g * (0.75 + 0.25 * s))[..., None], 3, axis=2) * _random_colour(rng, sat=(0, 0.2), val=(0.9, 1))


def _bg_grid(rng, size):
    yy, xx = _grid(size)
    k = rng.integers(6, 14)
    line = ((xx * k) % 1 < 0.12) | ((yy * k) % 1 < 0.12)
    a, b = _random_colour(rng, val=(0.5, 0.9)), _random_colour(rng, val=(0.1, 0.4))
    return np.where(line[..., None], b, a)


def _bg_dots(rng, size):
    yy, xx = _grid(size)
    k = rng.uniform(8, 16)
    d = np.sqrt(((xx * k) % 1 - 0.5) ** 2 + ((yy * k) % 1 - 0.5) ** 2) < 0.25
    a, b = _random_colour(rng, val=(0.3, 0.9)), _random_colour(rng, val=(0.3, 0.9))
    return np.where(d[..., None], b, a)


def _bg_plaid(rng, size):
    yy, xx = _grid(size)
    f = rng.uniform(4, 10)
    s = 0.5 + 0.25 * np.sin(2 * math.pi * f * xx) + 0.25 * np.sin(2 * math.pi * f * 1.3 * yy)
    a, b = _random_colour(rng), _random_colour(rng)
    return a * (1 - s[..., None]) + b * s[..., None]


def _bg_static(rng, size):
    base = _random_colour(rng, val=(0.3, 0.8))
    return np.clip(base + rng.normal(0, 0.18, size=(size, size, 3)).astype(np.float32), 0, 1)


# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Object classes and background families of one family of scenes."""
    name: str
    classes: tuple
    shapes: tuple
    backgrounds: tuple
    ood_backgrounds: tuple


WORLDS = {
    'downstream': World(
        name='downstream',
        classes=('circle', 'square', 'triangle', 'star', 'hexagon'),
        shapes=(_circle, _square, _triangle, _star, _hexagon),
        backgrounds=(_bg_gradient, _bg_blobs, _bg_stripes, _bg_checker),
        ood_backgrounds=(_bg_dots, _bg_plaid, _bg_static),
    ),
    'upstream': World(
        name='upstream',
        classes=('ellipse', 'cross', 'ring', 'arrow', 'trapezoid'),
        shapes=(_ellipse, _cross, _ring, _arrow, _trapezoid),
        backgrounds=(_bg_wood, _bg_marble, _bg_grid),
        ood_backgrounds=(_bg_dots, _bg_plaid, _bg_static),
    ),
}


@dataclass
class SceneObject:
    label: int          # 0-based class index within the world
    mask: np.ndarray    # visible (unoccluded) pixels, bool (H, W)
    full_area: int      # pixels of the whole shape before occlusion


@dataclass
class Scene:
    image: np.ndarray   # uint8 RGB (H, W, 3)
    objects: list = field(default_factory=list)
    background: str = ''
    corruption: str = 'none'


def scene_rng(world: str, split: str, index: int, seed: int) -> np.random.Generator:
    """One independent generator per image, so images do not depend on generation order."""
    key = zlib.crc32(f'{world}/{split}'.encode())
    return np.random.default_rng([seed, key, index])


def _corrupt(rng, img: np.ndarray):
    kind = ('hue_shift', 'noise', 'blur')[int(rng.integers(3))]
    if kind == 'hue_shift':
        pil = Image.fromarray(img).convert('HSV')
        h, s, v = (np.asarray(c, dtype=np.int16) for c in pil.split())
        h = ((h + int(rng.integers(60, 196))) % 256).astype(np.uint8)
        out = Image.merge('HSV', [Image.fromarray(h), Image.fromarray(s.astype(np.uint8)),
                                  Image.fromarray(v.astype(np.uint8))]).convert('RGB')
        return np.asarray(out), kind
    if kind == 'noise':
        noisy = img.astype(np.float32) + rng.normal(0, 25, size=img.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8), kind
    radius = float(rng.uniform(1.0, 1.8))
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius))), kind


def render_scene(world: World, rng: np.random.Generator, size: int = 128, ood: bool = False,
                 min_objects: int = 2, max_objects: int = 6, max_occlusion: float = 0.4) -> Scene:
    """Draw one scene: a background and 2-6 non-trivially overlapping objects.

    Objects are placed by rejection sampling so that no object loses more than `max_occlusion`
    of its area to the objects drawn after it; masks returned are the *visible* pixels, so boxes,
    masks and the semantic label map agree exactly.
    """
    bg_families = world.ood_backgrounds if ood else world.backgrounds
    bg_fn = bg_families[int(rng.integers(len(bg_families)))]
    canvas = bg_fn(rng, size).astype(np.float32)

    n_target = int(rng.integers(min_objects, max_objects + 1))
    placed = []  # (label, full mask, colour-field)
    attempts = 0
    while len(placed) < n_target and attempts < 40 * n_target:
        attempts += 1
        label = int(rng.integers(len(world.classes)))
        r = float(rng.uniform(0.06, 0.24) * size)
        cx, cy = rng.uniform(r * 0.6, size - r * 0.6, size=2)
        angle = float(rng.uniform(0, 2 * math.pi))
        mask = world.shapes[label](size, cx, cy, r, angle)
        area = int(mask.sum())
        if area < 40:
            continue
        # the new object occludes the earlier ones: keep every earlier object mostly visible
        ok = True
        for _, m_prev, _ in placed:
            prev_area = int(m_prev.sum())
            if int((m_prev & mask).sum()) > max_occlusion * prev_area:
                ok = False
                break
        if not ok:
            continue
        colour_a = _random_colour(rng)
        colour_b = np.clip(colour_a * rng.uniform(0.6, 1.0) + rng.uniform(-0.1, 0.1, 3), 0, 1)
        placed.append((label, mask, (colour_a.astype(np.float32), colour_b.astype(np.float32), angle)))

    yy, xx = _grid(size)
    visible_owner = np.full((size, size), -1, dtype=np.int32)
    for k, (label, mask, (ca, cb, angle)) in enumerate(placed):
        # a soft linear shading across the object keeps it from being a flat colour patch
        w = 0.5 + 0.5 * np.sin(xx * 6 * math.cos(angle) + yy * 6 * math.sin(angle))
        fill = ca * (1 - w[..., None]) + cb * w[..., None]
        canvas[mask] = fill[mask]
        visible_owner[mask] = k

    image = (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8)
    corruption = 'none'
    if ood:
        image, corruption = _corrupt(rng, image)
    objects = [SceneObject(label=label, mask=visible_owner == k, full_area=int(mask.sum()))
               for k, (label, mask, _) in enumerate(placed)]
    objects = [o for o in objects if o.mask.any()]
    return Scene(image=image, objects=objects, background=bg_fn.__name__[4:], corruption=corruption)
