/*
 * png.c — PNG writing and reading through libpng's simplified API, colormaps,
 * a built-in 5x7 bitmap font and the image-grid renderer used by
 * `chainrule attribute/attack --png`.
 */
#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "io_internal.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Largest decoded picture accepted by cr_png_read (bytes). */
#define CR_PNG_MAX_BYTES ((size_t)1 << 30)

/* ---------------------------------------------------------------- writing */

static int png_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                     int rgb) {
    if (!pixels || width == 0 || height == 0)
        return cr_fail(CR_ERR_IO, "%s: cannot write an empty picture (%zu x %zu)", path, width,
                            height);
    if (width > CR_PNG_MAX_SIDE || height > CR_PNG_MAX_SIDE)
        return cr_fail(CR_ERR_FORMAT, "%s: picture %zu x %zu exceeds the limit of %u pixels a side", path,
                            width, height, CR_PNG_MAX_SIDE);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    cr_atomic_file af;
    if (cr_atomic_open(&af, path)) return -1;
    if (!png_image_write_to_stdio(&img, (FILE *)af.fp, 0, pixels, 0, NULL)) {
        char msg[sizeof img.message];
        memcpy(msg, img.message, sizeof msg);
        msg[sizeof msg - 1] = 0;
        png_image_free(&img);
        cr_atomic_abort(&af);
        return cr_fail(CR_ERR_IO, "%s: cannot write PNG: %s", path, msg);
    }
    return cr_atomic_commit(&af);
}

cr_status cr_png_write_gray(const char *path, const uint8_t *pixels, size_t width, size_t height) {
    return cr_io_status(png_write(path, pixels, width, height, 0));
}

cr_status cr_png_write_rgb(const char *path, const uint8_t *pixels, size_t width, size_t height) {
    return cr_io_status(png_write(path, pixels, width, height, 1));
}

/* ---------------------------------------------------------------- reading */

cr_status cr_png_read(const char *path, uint8_t **pixels, size_t *width, size_t *height,
                int *channels) {
    *pixels = NULL;
    *width = *height = 0;
    *channels = 0;
    struct stat st;
    if (stat(path, &st) != 0) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return cr_fail(CR_ERR_IO, "%s: is a directory, not a PNG file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    uint8_t *buf = NULL;
    if (!png_image_begin_read_from_stdio(&img, fp)) {
        cr_fail(CR_ERR_FORMAT, "%s: not a readable PNG: %s", path, img.message);
        goto fail;
    }
    img.format &= ~(png_uint_32)(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLORMAP);
    int ch = (int)PNG_IMAGE_SAMPLE_CHANNELS(img.format);
    size_t w = img.width, h = img.height, bytes;
    if (w == 0 || h == 0 || w > CR_PNG_MAX_SIDE || h > CR_PNG_MAX_SIDE ||
        cr_mul_size(w, h, &bytes) != CR_OK || cr_mul_size(bytes, (size_t)ch, &bytes) != CR_OK ||
        bytes > CR_PNG_MAX_BYTES) {
        cr_fail(CR_ERR_FORMAT, "%s: PNG of %zu x %zu pixels is too large", path, w, h);
        goto fail;
    }
    buf = malloc(bytes);
    if (!buf) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory for a %zu x %zu PNG", path, w, h);
        goto fail;
    }
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        cr_fail(CR_ERR_FORMAT, "%s: corrupt PNG: %s", path, img.message);
        goto fail;
    }
    fclose(fp);
    *pixels = buf;
    *width = w;
    *height = h;
    *channels = ch;
    return CR_OK;
fail:
    png_image_free(&img);
    free(buf);
    fclose(fp);
    return cr_io_status(-1);
}

/* ---------------------------------------------------------------- colormaps */

static uint8_t to_byte(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (uint8_t)lrintf(v * 255.0f);
}

void cr_colormap_rgb(cr_colormap cmap, float t, uint8_t rgb[3]) {
    if (isnan(t)) {
        rgb[0] = 255, rgb[1] = 0, rgb[2] = 255;
        return;
    }
    if (t < 0.0f) t = 0.0f;
    if (t > 1.0f) t = 1.0f;
    switch (cmap) {
    case CR_CMAP_DIVERGING: {
        /* RdBu reversed, with pure white at the middle */
        static const float stops[5][3] = {{33, 102, 172},
                                          {146, 197, 222},
                                          {255, 255, 255},
                                          {244, 165, 130},
                                          {178, 24, 43}};
        float s = t * 4.0f;
        int i = (int)s;
        if (i > 3) i = 3;
        float f = s - (float)i;
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)lrintf(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
        return;
    }
    case CR_CMAP_HOT:
        rgb[0] = to_byte(3.0f * t);
        rgb[1] = to_byte(3.0f * t - 1.0f);
        rgb[2] = to_byte(3.0f * t - 2.0f);
        return;
    case CR_CMAP_GRAY:
    default:
        rgb[0] = rgb[1] = rgb[2] = to_byte(t);
        return;
    }
}

/* ---------------------------------------------------------------- font */

/* 5x7 glyphs: 7 rows, bit 4 is the leftmost column. */
static const char font_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .,:;-+=><\\/()_%#!?";
static const uint8_t font_rows[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, /* 9 */
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, /* . */
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, /* , */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, /* : */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08}, /* ; */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, /* + */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* > */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* < */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00}, /* backslash */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* / */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, /* _ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}, /* # */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* ! */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
};

_Static_assert(sizeof font_chars - 1 == sizeof font_rows / sizeof font_rows[0],
               "one glyph per font character");

static const uint8_t *glyph(char c) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    const char *p = c ? strchr(font_chars, c) : NULL;
    if (!p) p = strchr(font_chars, '?');
    return font_rows[p - font_chars];
}

size_t cr_text_width(const char *text, size_t text_scale) {
    size_t n = text ? strlen(text) : 0;
    if (text_scale == 0) text_scale = 1;
    return n ? (6 * n - 1) * text_scale : 0;
}

void cr_image_draw_text(cr_image *img, size_t x, size_t y, const char *text,
                        size_t text_scale, const uint8_t rgb[3]) {
    if (!img || !img->rgb || !text) return;
    size_t ts = text_scale ? text_scale : 1;
    for (size_t i = 0; text[i]; i++) {
        const uint8_t *g = glyph(text[i]);
        size_t gx = x + i * 6 * ts;
        if (gx >= img->width) break;
        for (size_t r = 0; r < CR_FONT_HEIGHT; r++)
            for (size_t c = 0; c < 5; c++) {
                if (!(g[r] & (0x10u >> c))) continue;
                for (size_t sy = 0; sy < ts; sy++)
                    for (size_t sx = 0; sx < ts; sx++) {
                        size_t px = gx + c * ts + sx, py = y + r * ts + sy;
                        if (px >= img->width || py >= img->height) continue;
                        uint8_t *o = img->rgb + (py * img->width + px) * 3;
                        o[0] = rgb[0], o[1] = rgb[1], o[2] = rgb[2];
                    }
            }
    }
}

/* ---------------------------------------------------------------- grids */

void cr_image_free(cr_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

cr_status cr_image_write_png(const char *path, const cr_image *img) {
    return cr_io_status(cr_png_write_rgb(path, img->rgb, img->width, img->height));
}

/* Range of a tile's values mapped onto its colormap. */
static void tile_range(const cr_image_tile *t, float *lo, float *hi) {
    if (t->lo < t->hi) {
        *lo = t->lo;
        *hi = t->hi;
        return;
    }
    size_t n = t->height * t->width * (t->channels == 3 ? 3 : 1);
    float mn = INFINITY, mx = -INFINITY, ma = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = t->values[i];
        if (!isfinite(v)) continue;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        if (fabsf(v) > ma) ma = fabsf(v);
    }
    if (mn > mx) mn = mx = 0.0f; /* no finite value */
    switch (t->cmap) {
    case CR_CMAP_DIVERGING: *lo = -ma, *hi = ma; break;
    case CR_CMAP_HOT: *lo = 0.0f, *hi = mx > 0.0f ? mx : 0.0f; break;
    case CR_CMAP_GRAY:
    default: *lo = mn, *hi = mx; break;
    }
    if (t->channels == 3) *lo = mn, *hi = mx; /* a colour image: its own range */
}

/* a + b and a * b with overflow checks, chained through *ok */
static size_t add_ok(size_t a, size_t b, int *ok) {
    if (a > SIZE_MAX - b) *ok = 0;
    return a + b;
}
static size_t mul_ok(size_t a, size_t b, int *ok) {
    size_t r = 0;
    if (cr_mul_size(a, b, &r) != CR_OK) *ok = 0;
    return r;
}

cr_status cr_image_grid(const cr_image_tile *tiles, size_t n_tiles, const cr_grid_options *opt,
                  cr_image *out) {
    memset(out, 0, sizeof *out);
    cr_grid_options defaults = CR_GRID_OPTIONS_INIT;
    if (!opt) opt = &defaults;
    if (!tiles || n_tiles == 0) return cr_fail(CR_ERR_FORMAT, "image grid: no tiles");
    size_t cols = opt->cols && opt->cols < n_tiles ? opt->cols : n_tiles;
    size_t rows = (n_tiles + cols - 1) / cols;
    size_t scale = opt->scale ? opt->scale : 1, ts = opt->text_scale ? opt->text_scale : 1;
    size_t pad = opt->pad;
    int ok = 1, any_label = 0;
    size_t cell_w = 0, cell_h = 0;
    for (size_t i = 0; i < n_tiles; i++) {
        const cr_image_tile *t = &tiles[i];
        if (!t->values || t->width == 0 || t->height == 0)
            return cr_fail(CR_ERR_FORMAT, "image grid: tile %zu is empty", i);
        if (t->channels > 1 && t->channels != 3)
            return cr_fail(CR_ERR_FORMAT, "image grid: tile %zu has %zu channels (1 or 3)", i, t->channels);
        if (t->width > CR_PNG_MAX_SIDE || t->height > CR_PNG_MAX_SIDE)
            return cr_fail(CR_ERR_FORMAT, "image grid: tile %zu is too large", i);
        size_t w = mul_ok(t->width, scale, &ok), h = mul_ok(t->height, scale, &ok);
        size_t lw = t->label && *t->label ? cr_text_width(t->label, ts) : 0;
        if (t->label && *t->label) any_label = 1;
        if (lw > w) w = lw;
        if (w > cell_w) cell_w = w;
        if (h > cell_h) cell_h = h;
    }
    size_t label_h = any_label ? mul_ok(CR_FONT_HEIGHT + 2, ts, &ok) : 0;
    size_t row_h = add_ok(label_h, cell_h, &ok);
    size_t W = add_ok(mul_ok(cols, cell_w, &ok), mul_ok(cols + 1, pad, &ok), &ok);
    size_t H = add_ok(mul_ok(rows, row_h, &ok), mul_ok(rows + 1, pad, &ok), &ok);
    size_t bytes = mul_ok(mul_ok(W, H, &ok), 3, &ok);
    if (!ok || W > CR_PNG_MAX_SIDE || H > CR_PNG_MAX_SIDE || bytes > CR_PNG_MAX_BYTES)
        return cr_fail(CR_ERR_FORMAT, "image grid: canvas too large");
    out->rgb = malloc(bytes);
    if (!out->rgb) return cr_fail(CR_ERR_NOMEM, "image grid: out of memory for %zu x %zu", W, H);
    memset(out->rgb, 255, bytes);
    out->width = W;
    out->height = H;

    static const uint8_t black[3] = {0, 0, 0};
    for (size_t i = 0; i < n_tiles; i++) {
        const cr_image_tile *t = &tiles[i];
        size_t gx = pad + (i % cols) * (cell_w + pad);
        size_t gy = pad + (i / cols) * (row_h + pad);
        if (t->label && *t->label) cr_image_draw_text(out, gx, gy, t->label, ts, black);
        gy += label_h;
        float lo, hi;
        tile_range(t, &lo, &hi);
        float span = hi - lo;
        for (size_t r = 0; r < t->height; r++)
            for (size_t c = 0; c < t->width; c++) {
                float v = t->values[r * t->width + c], u;
                if (!isfinite(v))
                    u = NAN;
                else if (span > 0.0f && isfinite(span))
                    u = (v - lo) / span;
                else
                    u = t->cmap == CR_CMAP_DIVERGING ? 0.5f : (v > lo ? 1.0f : 0.0f);
                uint8_t rgb[3];
                if (t->channels == 3) { /* planes R, G, B mapped linearly, NaN magenta */
                    const size_t hw = t->height * t->width;
                    for (int ch = 0; ch < 3; ch++) {
                        float w = t->values[(size_t)ch * hw + r * t->width + c];
                        float q = span > 0.0f && isfinite(span) ? (w - lo) / span : 0.5f;
                        if (!isfinite(w)) {
                            rgb[0] = 255, rgb[1] = 0, rgb[2] = 255;
                            break;
                        }
                        q = q < 0 ? 0 : q > 1 ? 1 : q;
                        rgb[ch] = (uint8_t)lrintf(q * 255.0f);
                    }
                } else {
                    cr_colormap_rgb(t->cmap, u, rgb);
                }
                for (size_t sy = 0; sy < scale; sy++) {
                    uint8_t *o = out->rgb + ((gy + r * scale + sy) * W + gx + c * scale) * 3;
                    for (size_t sx = 0; sx < scale; sx++, o += 3) o[0] = rgb[0], o[1] = rgb[1], o[2] = rgb[2];
                }
            }
    }
    return CR_OK;
}
