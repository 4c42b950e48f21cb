"""Safe logos: an uploaded image is decoded and encoded again by Pillow, so what the Hub stores
and serves is pixels it wrote itself, never the uploader's bytes.

- Only PNG, JPEG and WebP are opened (Pillow is told these formats and no other, so none of its
  other decoders sees the bytes). SVG is refused, not sanitized: it is a document that can carry
  scripts and external references, and a theme's logo needs none of that.
- The size in pixels is read from the header and checked against `max_pixels` before a pixel is
  decoded: a decompression bomb (a 20000 x 20000 PNG of one color is a few hundred KB that would
  decode into 1.2 GB) is refused at that point. Pillow's own DecompressionBombWarning and
  DecompressionBombError are errors too.
- The image is turned upright by its EXIF orientation, shrunk to fit `max_side`, and encoded
  again in its own format with nothing but the pixels: EXIF (GPS position, camera, dates), XMP,
  ICC profiles and text chunks are all left behind. An animated image keeps its first frame.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {  # Pillow's format -> (content type, file extension)
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
CONTENT_TYPES = frozenset(content_type for content_type, _ in FORMATS.values())


class LogoRefused(Exception):
    """Why an upload is not a logo: `status` 400 (unreadable, too many pixels) or 415 (not PNG,
    JPEG or WebP)."""

    def __init__(self, status: int, reason: str, **details) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _looks_like_markup(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") or b"<svg" in head


def open_logo(data: bytes, max_pixels: int) -> Image.Image:
    """The image, opened (its header read, no pixel decoded) and checked: a format the Hub
    takes, and at most `max_pixels`. Cheap, and run on the event loop's thread: the warnings
    filter it sets is process-wide, so it is not changed from worker threads."""
    try:
        # Pillow reports a bomb by a warning, or an error past twice its bound: both refuse here
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise LogoRefused(400, f"the image has more than the {max_pixels:,} pixels accepted, too many to be "
                               f"decoded safely ({error})", max_pixels=max_pixels) from None
    except UnidentifiedImageError:
        if _looks_like_markup(data):
            raise LogoRefused(415, "SVG and other markup are refused (they can carry scripts): send a PNG, "
                                   "JPEG or WebP image") from None
        raise LogoRefused(415, "not a PNG, JPEG or WebP image") from None
    except (OSError, ValueError, SyntaxError) as error:  # a header Pillow cannot read
        raise LogoRefused(400, f"the image cannot be read: {error}") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise LogoRefused(400, f"the image is {width}x{height} pixels ({width * height:,}); at most "
                               f"{max_pixels:,} are accepted", width=width, height=height, max_pixels=max_pixels)
    return image


def reencode(image: Image.Image, max_side: int) -> Logo:
    """Decode `image` (from `open_logo`), orient, shrink and encode it again without metadata.
    CPU-bound: run it in a thread."""
    content_type, extension = FORMATS[image.format]
    kind = image.format
    try:
        image.load()  # the first frame of an animation; its size was checked by open_logo
    except Image.DecompressionBombError as error:
        raise LogoRefused(400, f"the image has too many pixels to be decoded safely ({error})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:  # truncated or corrupt data
        raise LogoRefused(400, f"the image cannot be decoded: {error}") from None
    upright = ImageOps.exif_transpose(image)
    if kind == "JPEG":
        pixels = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
    elif upright.mode in ("RGB", "RGBA", "L", "LA"):
        pixels = upright
    else:  # palette, CMYK, 16-bit...: with its transparency, if any
        has_alpha = "A" in upright.getbands() or "transparency" in upright.info
        pixels = upright.convert("RGBA" if has_alpha else "RGB")
    pixels = pixels.copy() if pixels is image else pixels
    pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    pixels.info.clear()  # no EXIF, XMP, ICC profile, text chunk or comment goes on with the pixels
    out = io.BytesIO()
    if kind == "PNG":
        pixels.save(out, "PNG", optimize=True)
    elif kind == "JPEG":
        pixels.save(out, "JPEG", quality=90, optimize=True)
    else:
        pixels.save(out, "WEBP", quality=90, method=4)
    image.close()
    return Logo(out.getvalue(), content_type, extension, pixels.width, pixels.height)
