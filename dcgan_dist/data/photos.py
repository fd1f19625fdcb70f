"""One image file as people have them -> uint8 pixels the way they look on screen.

What a phone, a scanner or an export tool hands over, and what each becomes here:
- EXIF orientation (phones store pixels sideways and a tag saying so): applied, so the image
  is upright, as every viewer shows it.
- 16-bit grey or colour (PNG, TIFF): scaled to 8 bits (value / 257, rounded), not clipped
  (Pillow's convert('L') clips every value over 255 to white).
- CMYK JPEG: converted to RGB by Pillow (Adobe's inverted CMYK included). Embedded colour
  profiles are not applied: pixel values are taken as sRGB.
- transparency (RGBA, LA, a palette with a transparent index): composited over
  --transparency (white by default, black), since the models see no alpha channel.
- animated GIF/WebP: the first frame.
- more pixels than --max_image_pixels (a decompression bomb: a small file that decodes to
  gigabytes): refused from its header, before decoding, naming the file.
"""

import contextlib
import hashlib
import io

import numpy as np

TRANSPARENCY = {"white": 255, "black": 0}  # --transparency: what transparent pixels become
DEFAULT_TRANSPARENCY = "white"
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS: --max_image_pixels' default
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_16_BIT_MODES = ("I", "I;16", "I;16B", "I;16L")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# EXIF orientations 5-8 turn the image a quarter: its displayed height is the stored width.
_QUARTER_TURNS = (5, 6, 7, 8)
_ORIENTATION_TAG = 0x0112


class Refused(Exception):
    """An image that must not be decoded (too many pixels): the message says why."""


def _open(data):
    """A PIL image of encoded bytes, or of an HxWxC uint8 array (CIFAR's batches)."""
    from PIL import Image
    if isinstance(data, np.ndarray):
        return Image.fromarray(data.squeeze(-1) if data.shape[-1] == 1 else data)
    return Image.open(io.BytesIO(data))


@contextlib.contextmanager
def own_pixel_limit():
    """Pillow's own bomb check off (it refuses at twice its limit whatever --max_image_pixels
    says): `probe` and `decode` check the flag's limit themselves."""
    from PIL import Image
    before, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _orientation(image):
    # A PNG's EXIF sits in an eXIf chunk before the pixels; asking for one it lacks would
    # decode the whole image looking for it after them.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        return int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block: show it as stored
        return 1


def _check_pixels(image, max_pixels):
    width, height = image.size
    if max_pixels and width * height > max_pixels:
        raise Refused(f"{width}x{height} = {width * height:,} pixels, over "
                      f"--max_image_pixels={max_pixels:,} (a decompression bomb?)")


def probe(data, max_pixels):
    """(is_grey, (height, width) as displayed) from the header alone.

    Raises:
      Refused: more than `max_pixels` pixels.
      Exception: anything else Pillow raises for a file it cannot read.
    """
    from PIL import Image
    try:
        image = _open(data)
    except Image.DecompressionBombError as e:  # Pillow's own limit, at twice its default
        raise Refused(f"{e} (a decompression bomb?)") from e
    with image:
        _check_pixels(image, max_pixels)
        height, width = image.size[::-1]
        if _orientation(image) in _QUARTER_TURNS:
            height, width = width, height
        return image.mode in GREY_MODES, (height, width)


def _to_8_bit(image):
    """A 16-bit image (modes I;16*, or I as Pillow opens 16-bit PNGs) -> mode L."""
    from PIL import Image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), "L")


def _flatten_alpha(image, background):
    """A transparent image composited over a solid background -> mode RGB or L."""
    from PIL import Image
    grey = image.mode in ("LA", "La")
    image = image.convert("RGBA")
    base = Image.new("RGBA", image.size, (background,) * 3 + (255,))
    return Image.alpha_composite(base, image).convert("L" if grey else "RGB")


def _has_alpha(image):
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def decode(data, channels, size, transparency=DEFAULT_TRANSPARENCY,
           max_pixels=DEFAULT_MAX_PIXELS):
    """(uint8 HxWxC pixels, digest): the image upright, 8-bit, alpha flattened, `channels`
    (1 or 3), center-cropped to a square and resized to size x size (size 0: as it is); the
    digest is of the upright pixels at full size, before the crop (an exact duplicate is the
    same picture, not two that shrink alike).

    Raises:
      Refused: more than `max_pixels` pixels.
      Exception: whatever Pillow raises for a file it cannot decode.
    """
    from PIL import Image, ImageOps
    with _open(data) as image:
        _check_pixels(image, max_pixels)
        image.seek(0)  # the first frame of an animation
        if _orientation(image) != 1:
            image = ImageOps.exif_transpose(image)
        if image.mode in _16_BIT_MODES:
            image = _to_8_bit(image)
        elif _has_alpha(image):
            image = _flatten_alpha(image, TRANSPARENCY[transparency])
        image = image.convert("L" if channels == 1 else "RGB")
        digest = hashlib.sha1(f"{image.size}".encode() + image.tobytes()).digest()
        if size:
            width, height = image.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            if side != size:  # LANCZOS antialiases when shrinking, as StyleGAN's tool
                image = image.resize((size, size), Image.LANCZOS)
        array = np.asarray(image, np.uint8)
    return (array[..., None] if array.ndim == 2 else array), digest
