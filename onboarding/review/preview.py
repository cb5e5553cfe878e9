"""A picture of a document for the case page: the first page of a PDF, or the image itself, re-encoded
as a small PNG. Reviewers see the file without downloading it, and the browser never receives the
uploaded bytes (a re-encoded PNG cannot carry the original's active content).

Any file gives a picture: its preview, or a plain "no preview" card that says why (a damaged file, a
page pdfium cannot load, a compression bomb). Uploaded files are hostile input, so no library error
may turn into a server error here."""

from __future__ import annotations

import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

from ..checks.documents import measure_inflation

PREVIEW_WIDTH = 900
MAX_PDF_PAGE_POINTS = 5000  # a page larger than ~1.7 m is not a document we want to rasterise
PLACEHOLDER_SIZE = (360, 508)  # the A4 proportions of a preview, so the case page does not jump


class PreviewUnavailable(Exception):
    pass


def render_preview(data: bytes, content_type: str) -> bytes:
    if content_type == "application/pdf":
        image = _first_pdf_page(data)
    elif content_type in ("image/png", "image/jpeg"):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise PreviewUnavailable("The image cannot be decoded.") from exc
    else:
        raise PreviewUnavailable("No preview for this type of file.")
    image = image.convert("RGB")
    if image.width > PREVIEW_WIDTH:
        image.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH * 4))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def preview_or_placeholder(data: bytes, content_type: str) -> tuple[bytes, str | None]:
    """The preview PNG, or a "no preview" card and the reason it shows."""
    try:
        return render_preview(data, content_type), None
    except PreviewUnavailable as exc:
        return no_preview_png(str(exc)), str(exc)


def no_preview_png(reason: str) -> bytes:
    """A plain grey card: "No preview", the reason, and where to get the original."""
    image = Image.new("RGB", PLACEHOLDER_SIZE, (244, 245, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle([(0, 0), (PLACEHOLDER_SIZE[0] - 1, PLACEHOLDER_SIZE[1] - 1)], outline=(190, 194, 201), width=2)
    title, body = _font(30), _font(20)
    draw.text((24, 40), "No preview", fill=(40, 44, 52), font=title)
    lines = textwrap.wrap(reason, 28) + ["", "Download the original", "to look at it."]
    draw.multiline_text((24, 100), "\n".join(lines), fill=(70, 75, 85), font=body, spacing=8)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow before 10.1 has one bitmap size only
        return ImageFont.load_default()


def _first_pdf_page(data: bytes) -> Image.Image:
    import pypdfium2

    if measure_inflation(data).bomb:  # pdfium would inflate the whole stream in memory to draw it
        raise PreviewUnavailable("The PDF expands far too much when opened (a possible compression bomb).")
    try:
        pdf = pypdfium2.PdfDocument(data)
    except (pypdfium2.PdfiumError, ValueError, OSError) as exc:
        raise PreviewUnavailable("The PDF cannot be opened (damaged or encrypted).") from exc
    try:
        if len(pdf) == 0:
            raise PreviewUnavailable("The PDF has no pages.")
        try:
            page = pdf[0]
            width, height = page.get_size()
        except (pypdfium2.PdfiumError, ValueError, OSError) as exc:
            raise PreviewUnavailable("The first page of the PDF cannot be loaded (the file is damaged).") from exc
        # Bound the bitmap, not only the page: a thin page would otherwise be scaled up enormously.
        if width < 36 or height < 36 or max(width, height) > MAX_PDF_PAGE_POINTS or height / width > 4:
            raise PreviewUnavailable("The first page has an unusual size and is not rendered.")
        try:
            bitmap = page.render(scale=PREVIEW_WIDTH / width, may_draw_forms=False)
            return bitmap.to_pil()
        except (pypdfium2.PdfiumError, MemoryError, ValueError, OSError) as exc:
            raise PreviewUnavailable("The first page could not be rendered.") from exc
    finally:
        pdf.close()
