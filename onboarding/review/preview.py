"""A picture of a document for the case page: the first page of a PDF, or the image itself, re-encoded
as a small PNG. Reviewers see the file without downloading it, and the browser never receives the
uploaded bytes (a re-encoded PNG cannot carry the original's active content)."""

from __future__ import annotations

import io

from PIL import Image

PREVIEW_WIDTH = 900
MAX_PDF_PAGE_POINTS = 5000  # a page larger than ~1.7 m is not a document we want to rasterise


class PreviewUnavailable(Exception):
    pass


def render_preview(data: bytes, content_type: str) -> bytes:
    if content_type == "application/pdf":
        image = _first_pdf_page(data)
    elif content_type in ("image/png", "image/jpeg"):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, Image.DecompressionBombError) as exc:
            raise PreviewUnavailable("The image cannot be decoded.") from exc
    else:
        raise PreviewUnavailable("No preview for this type of file.")
    image = image.convert("RGB")
    if image.width > PREVIEW_WIDTH:
        image.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH * 4))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _first_pdf_page(data: bytes) -> Image.Image:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise PreviewUnavailable("The PDF cannot be opened (damaged or encrypted).") from exc
    try:
        if len(pdf) == 0:
            raise PreviewUnavailable("The PDF has no pages.")
        page = pdf[0]
        width, height = page.get_size()
        # Bound the bitmap, not only the page: a thin page would otherwise be scaled up enormously.
        if width < 36 or height < 36 or max(width, height) > MAX_PDF_PAGE_POINTS or height / width > 4:
            raise PreviewUnavailable("The first page has an unusual size and is not rendered.")
        try:
            bitmap = page.render(scale=PREVIEW_WIDTH / width, may_draw_forms=False)
            return bitmap.to_pil()
        except (pypdfium2.PdfiumError, MemoryError, ValueError) as exc:
            raise PreviewUnavailable("The first page could not be rendered.") from exc
    finally:
        pdf.close()
