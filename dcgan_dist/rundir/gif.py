"""An animated GIF put together from frames encoded once each.

A run rewrites samples.gif after every sample grid. Encoding it whole each time (Pillow,
through imageio) compressed every frame again: at 30 frames of MNIST's 468 px grids, 0.9 s of
the training thread per grid, about 3% of `mnist_fast`'s minutes, and most of a tiny test
run's. Here Pillow encodes each frame once, as a one-frame GIF; its image block (descriptor,
colour table, LZW data) is kept, keyed by a digest of its pixels, and the animation is those
blocks behind one header, each after its own delay (GIF89a: a logical screen, the NETSCAPE2.0
loop extension, then per frame a graphic control extension and an image with a local colour
table). Readers decode it as the GIF Pillow would write, frame for frame.
"""

import collections
import hashlib
import struct

import imageio.v3 as iio
import numpy as np

TRAILER = b";"


def encode(frames_uint8, duration_ms=200):
    """An endlessly looping GIF of same-sized HxWx3 uint8 frames, `duration_ms` each."""
    frames_uint8 = [np.ascontiguousarray(f, np.uint8) for f in frames_uint8]
    height, width = frames_uint8[0].shape[:2]
    # Logical screen: the frames' size, no global colour table; then loop forever.
    parts = [b"GIF89a", struct.pack("<HHBBB", width, height, 0, 0, 0),
             b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"]
    delay = struct.pack("<H", max(0, round(duration_ms / 10)))  # hundredths of a second
    for frame in frames_uint8:
        if frame.shape[:2] != (height, width):
            raise ValueError(f"GIF frames differ in size: {frame.shape[:2]} and "
                             f"{(height, width)}")
        # Graphic control: restore nothing (each frame covers the screen), the delay.
        parts += [b"!\xf9\x04\x04" + delay + b"\x00\x00", _image_block(frame)]
    parts.append(TRAILER)
    return b"".join(parts)


# Image blocks of the frames encoded last, by a digest of their pixels: a run's GIF keeps at
# most grids.GIF_MAX_FRAMES frames, and the digest, not the pixels, is what stays in memory.
_BLOCKS = collections.OrderedDict()
MAX_CACHED_FRAMES = 64


def _image_block(frame):
    """One frame's image descriptor, local colour table and LZW data, as Pillow encodes it."""
    key = hashlib.blake2b(frame.tobytes(), digest_size=16).digest() + bytes(str(frame.shape),
                                                                            "ascii")
    if key in _BLOCKS:
        _BLOCKS.move_to_end(key)
    else:
        _BLOCKS[key] = image_block(iio.imwrite("<bytes>", frame, extension=".gif"))
        if len(_BLOCKS) > MAX_CACHED_FRAMES:
            _BLOCKS.popitem(last=False)
    return _BLOCKS[key]


def image_block(gif):
    """The first image of a GIF file's bytes, as a block with a local colour table (moved
    from the global one where the file has it there)."""
    if gif[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF file")
    packed = gif[10]
    position = 13
    colour_table = b""
    if packed & 0x80:  # a global colour table of 2^(n+1) RGB entries
        size = 3 << ((packed & 7) + 1)
        colour_table, position = gif[position:position + size], position + size
    while gif[position:position + 1] == b"!":  # extensions: skip them
        position = _skip_sub_blocks(gif, position + 2)
    if gif[position:position + 1] != b",":
        raise ValueError("a GIF file without an image")
    descriptor = bytearray(gif[position:position + 10])
    start = position + 10
    if descriptor[9] & 0x80:  # a local colour table of its own follows: keep it
        colour_table, table_size = b"", 3 << ((descriptor[9] & 7) + 1)
    elif packed & 0x80:  # give the image the global table as its local one
        descriptor[9] = (descriptor[9] & 0x40) | 0x80 | (packed & 7)
        table_size = 0
    else:
        raise ValueError("a GIF image without a colour table")
    end = _skip_sub_blocks(gif, start + table_size + 1)  # + the LZW minimum code size
    return bytes(descriptor) + colour_table + gif[start:end]


def _skip_sub_blocks(data, position):
    """The position after the data sub-blocks starting at `position` (and their 0 end)."""
    while data[position]:
        position += data[position] + 1
    return position + 1
