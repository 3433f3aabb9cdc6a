/*
 * plot.c — small charts drawn into an RGB cr_image with png.c's 5x7 font:
 * line charts in side-by-side panels (axes, ticks with values, axis titles,
 * a legend, a title above) and a heatmap with labelled rows and columns (the
 * confusion matrix). Used by `chainrule train --plot`, `eval --png` and
 * `attack --png-curve`; the CLI writes them with cr_image_write_png.
 */
#include "chainrule_data.h"
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t BLACK[3] = {0, 0, 0}, GREY[3] = {200, 200, 200}, DARK[3] = {90, 90, 90};
/* The series' colours (colour-blind safe: blue, orange, green, vermillion, purple, sky). */
static const uint8_t SERIES[6][3] = {{0, 114, 178}, {230, 159, 0}, {0, 158, 115},
                                     {213, 94, 0},  {204, 121, 167}, {86, 180, 233}};

static int canvas(cr_image *img, size_t w, size_t h) {
    img->width = w, img->height = h;
    img->rgb = malloc(w * h * 3);
    if (!img->rgb) return cr_fail(CR_ERR_NOMEM, "plot: out of memory (%zu x %zu)", w, h);
    memset(img->rgb, 255, w * h * 3);
    return 0;
}

static void pixel(cr_image *img, long x, long y, const uint8_t c[3]) {
    if (x < 0 || y < 0 || (size_t)x >= img->width || (size_t)y >= img->height) return;
    uint8_t *o = img->rgb + ((size_t)y * img->width + (size_t)x) * 3;
    o[0] = c[0], o[1] = c[1], o[2] = c[2];
}

static void rect(cr_image *img, long x0, long y0, long w, long h, const uint8_t c[3]) {
    for (long y = y0; y < y0 + h; y++)
        for (long x = x0; x < x0 + w; x++) pixel(img, x, y, c);
}

/* A line of width 2 (Bresenham, each point doubled below and right). */
static void line(cr_image *img, long x0, long y0, long x1, long y1, const uint8_t c[3]) {
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long e = dx + dy;
    for (;;) {
        pixel(img, x0, y0, c), pixel(img, x0 + 1, y0, c), pixel(img, x0, y0 + 1, c);
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static void text(cr_image *img, long x, long y, const char *s, size_t ts, const uint8_t c[3]) {
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    cr_image_draw_text(img, (size_t)x, (size_t)y, s, ts, c);
}

/* Text drawn vertically (bottom to top), one glyph per step: axis titles on the left. */
static void text_up(cr_image *img, long x, long y_bottom, const char *s, const uint8_t c[3]) {
    cr_image tmp;
    size_t w = cr_text_width(s, 1), h = CR_FONT_HEIGHT;
    if (!w) return;
    tmp.width = w, tmp.height = h;
    if (!(tmp.rgb = malloc(w * h * 3))) return;
    memset(tmp.rgb, 255, w * h * 3);
    cr_image_draw_text(&tmp, 0, 0, s, 1, c);
    for (size_t yy = 0; yy < h; yy++)
        for (size_t xx = 0; xx < w; xx++) {
            const uint8_t *p = tmp.rgb + (yy * w + xx) * 3;
            if (p[0] != 255 || p[1] != 255 || p[2] != 255) pixel(img, x + (long)yy, y_bottom - (long)xx, p);
        }
    free(tmp.rgb);
}

/* Ticks of [lo, hi]: a step of 1, 2 or 5 times a power of ten giving 3 to 7 ticks. */
static double tick_step(double lo, double hi) {
    double span = hi - lo, raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t size, double v, double step) {
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(buf, size, "%.4g", v);
}

/* The range of a panel's axis: the data's (or the given one), widened when flat. */
static void axis_range(const cr_plot_panel *p, int ydir, double *lo, double *hi) {
    double a = INFINITY, b = -INFINITY;
    const double given_lo = ydir ? p->ymin : p->xmin, given_hi = ydir ? p->ymax : p->xmax;
    if (given_lo < given_hi) {
        *lo = given_lo, *hi = given_hi;
        return;
    }
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double v = ydir ? p->series[s].y[i] : p->series[s].x[i];
            if (isfinite(v)) a = v < a ? v : a, b = v > b ? v : b;
        }
    if (!(a <= b)) a = 0, b = 1;
    if (b - a < 1e-12 * (fabs(a) + 1)) a -= 0.5 * (fabs(a) + 1) * 0.1, b += 0.5 * (fabs(b) + 1) * 0.1;
    *lo = a, *hi = b;
}

enum { PANEL_W = 420, PANEL_H = 300, MARGIN_L = 62, MARGIN_R = 14, MARGIN_T = 26, MARGIN_B = 40 };

static void panel(cr_image *img, long ox, long oy, const cr_plot_panel *p) {
    const long pw = PANEL_W - MARGIN_L - MARGIN_R, ph = PANEL_H - MARGIN_T - MARGIN_B;
    const long x0 = ox + MARGIN_L, y0 = oy + MARGIN_T; /* the plot area's top-left */
    double xlo, xhi, ylo, yhi;
    axis_range(p, 0, &xlo, &xhi);
    axis_range(p, 1, &ylo, &yhi);
    char buf[64];
    if (p->title) text(img, x0, oy + 6, p->title, 1, BLACK);
    /* grid lines and tick values */
    double st = tick_step(ylo, yhi);
    for (double v = ceil(ylo / st) * st; v <= yhi + st * 1e-9; v += st) {
        long y = y0 + ph - (long)lround((v - ylo) / (yhi - ylo) * (double)ph);
        for (long x = x0; x <= x0 + pw; x++) pixel(img, x, y, GREY);
        fmt_tick(buf, sizeof buf, v, st);
        text(img, x0 - 4 - (long)cr_text_width(buf, 1), y - 3, buf, 1, BLACK);
    }
    st = tick_step(xlo, xhi);
    if (p->integer_x && st < 1) st = 1;
    for (double v = ceil(xlo / st) * st; v <= xhi + st * 1e-9; v += st) {
        long x = x0 + (long)lround((v - xlo) / (xhi - xlo) * (double)pw);
        for (long y = y0; y <= y0 + ph; y++) pixel(img, x, y, GREY);
        fmt_tick(buf, sizeof buf, v, st);
        text(img, x - (long)cr_text_width(buf, 1) / 2, y0 + ph + 5, buf, 1, BLACK);
    }
    /* the axes */
    for (long x = x0; x <= x0 + pw; x++) pixel(img, x, y0 + ph, BLACK);
    for (long y = y0; y <= y0 + ph; y++) pixel(img, x0, y, BLACK);
    if (p->xlabel) text(img, x0 + pw / 2 - (long)cr_text_width(p->xlabel, 1) / 2, y0 + ph + 18, p->xlabel, 1, BLACK);
    if (p->ylabel) text_up(img, ox + 4, y0 + ph / 2 + (long)cr_text_width(p->ylabel, 1) / 2, p->ylabel, BLACK);
    /* the series: lines between finite points, a dot on each */
    for (size_t s = 0; s < p->n_series; s++) {
        const cr_plot_series *se = &p->series[s];
        const uint8_t *c = SERIES[s % 6];
        long px = 0, py = 0;
        int have = 0;
        for (size_t i = 0; i < se->n; i++) {
            double xv = se->x[i], yv = se->y[i];
            if (!isfinite(xv) || !isfinite(yv)) {
                have = 0;
                continue;
            }
            double tx = (xv - xlo) / (xhi - xlo), ty = (yv - ylo) / (yhi - ylo);
            tx = tx < 0 ? 0 : tx > 1 ? 1 : tx, ty = ty < 0 ? 0 : ty > 1 ? 1 : ty;
            long x = x0 + (long)lround(tx * (double)pw), y = y0 + ph - (long)lround(ty * (double)ph);
            if (have) line(img, px, py, x, y, c);
            rect(img, x - 2, y - 2, 5, 5, c);
            px = x, py = y, have = 1;
        }
    }
    /* the legend, top right inside the plot area */
    size_t lw = 0;
    for (size_t s = 0; s < p->n_series; s++) {
        size_t w = p->series[s].name ? cr_text_width(p->series[s].name, 1) : 0;
        lw = w > lw ? w : lw;
    }
    if (lw && p->n_series > 1) {
        long lx = x0 + pw - (long)lw - 28, ly = y0 + 6;
        if (p->legend_bottom) ly = y0 + ph - 6 - 12 * (long)p->n_series;
        rect(img, lx - 4, ly - 4, (long)lw + 30, 12 * (long)p->n_series + 6, (const uint8_t[3]){255, 255, 255});
        for (size_t s = 0; s < p->n_series; s++) {
            rect(img, lx, ly + 12 * (long)s + 2, 16, 3, SERIES[s % 6]);
            if (p->series[s].name) text(img, lx + 22, ly + 12 * (long)s, p->series[s].name, 1, BLACK);
        }
    }
}

cr_status cr_plot_panels(const cr_plot_panel *panels, size_t n_panels, const char *title, cr_image *out) {
    memset(out, 0, sizeof *out);
    if (!panels || n_panels == 0 || n_panels > 8) return cr_fail(CR_ERR_FORMAT, "plot: 1 to 8 panels");
    for (size_t k = 0; k < n_panels; k++)
        for (size_t s = 0; s < panels[k].n_series; s++)
            if (!panels[k].series || !panels[k].series[s].x || !panels[k].series[s].y)
                return cr_fail(CR_ERR_FORMAT, "plot: panel %zu, series %zu: no data", k, s);
    size_t lines = 0;
    for (const char *c = title; c && *c; c++) lines += *c == '\n';
    const size_t th = title && *title ? (lines + 1) * 2 * (CR_FONT_HEIGHT + 3) + 8 : 0;
    if (canvas(out, n_panels * PANEL_W + 10, PANEL_H + th + 6)) return cr_io_status(-1);
    if (th) { /* the title, line by line, at twice the size */
        char buf[256];
        const char *p = title;
        for (size_t l = 0; l <= lines; l++) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n >= sizeof buf) n = sizeof buf - 1;
            memcpy(buf, p, n), buf[n] = 0;
            text(out, 10, 8 + (long)l * 2 * (CR_FONT_HEIGHT + 3), buf, 2, BLACK);
            p = e ? e + 1 : p + n;
        }
    }
    for (size_t k = 0; k < n_panels; k++) panel(out, 5 + (long)(k * PANEL_W), (long)th, &panels[k]);
    return CR_OK;
}

/* White -> dark blue. */
static void blues(double t, uint8_t c[3]) {
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const double a[3] = {247, 251, 255}, b[3] = {8, 48, 107};
    for (int i = 0; i < 3; i++) c[i] = (uint8_t)lround(a[i] + (b[i] - a[i]) * t);
}

cr_status cr_plot_heatmap(const cr_heatmap *h, cr_image *out) {
    memset(out, 0, sizeof *out);
    if (!h || !h->values || h->rows == 0 || h->cols == 0 || h->rows > 1000 || h->cols > 1000)
        return cr_fail(CR_ERR_FORMAT, "heatmap: 1 to 1000 rows and columns");
    const size_t R = h->rows, C = h->cols, big = R > C ? R : C;
    const long cell = big <= 12 ? 36 : big <= 30 ? 18 : big <= 100 ? 8 : 3;
    size_t nw = 0; /* the longest row name */
    for (size_t i = 0; i < R; i++) {
        size_t w = h->row_names && h->row_names[i] ? cr_text_width(h->row_names[i], 1) : 0;
        nw = w > nw ? w : nw;
    }
    size_t cw = 0; /* the longest column name (written vertically) */
    for (size_t j = 0; j < C; j++) {
        size_t w = h->col_names && h->col_names[j] ? cr_text_width(h->col_names[j], 1) : 0;
        cw = w > cw ? w : cw;
    }
    size_t lines = 0;
    for (const char *c = h->title; c && *c; c++) lines += *c == '\n';
    const long th = h->title ? (long)(lines + 1) * 2 * (CR_FONT_HEIGHT + 3) + 10 : 0;
    const long left = 24 + (long)nw + 8, top = th + 16 + (long)cw + 8;
    const long gw = (long)C * cell, gh = (long)R * cell;
    size_t legend_w = h->legend ? cr_text_width(h->legend, 1) : 0;
    long width = left + gw + 20;
    if ((long)legend_w + 20 > width) width = (long)legend_w + 20;
    if (h->title) {
        const char *p = h->title;
        for (size_t l = 0; l <= lines; l++) {
            const char *e = strchr(p, '\n');
            char buf[256];
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n >= sizeof buf) n = sizeof buf - 1;
            memcpy(buf, p, n), buf[n] = 0;
            long w = (long)cr_text_width(buf, 2) + 20;
            width = w > width ? w : width;
            p = e ? e + 1 : p + n;
        }
    }
    if (canvas(out, (size_t)width, (size_t)(top + gh + 44))) return cr_io_status(-1);
    if (h->title) {
        const char *p = h->title;
        for (size_t l = 0; l <= lines; l++) {
            const char *e = strchr(p, '\n');
            char buf[256];
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n >= sizeof buf) n = sizeof buf - 1;
            memcpy(buf, p, n), buf[n] = 0;
            text(out, 10, 8 + (long)l * 2 * (CR_FONT_HEIGHT + 3), buf, 2, BLACK);
            p = e ? e + 1 : p + n;
        }
    }
    /* the scale of each row (row-normalised) or of the whole matrix */
    double gmax = 0;
    for (size_t i = 0; i < R * C; i++) gmax = h->values[i] > gmax ? h->values[i] : gmax;
    for (size_t i = 0; i < R; i++) {
        double rmax = 0;
        for (size_t j = 0; j < C; j++) rmax += h->values[i * C + j];
        for (size_t j = 0; j < C; j++) {
            double v = h->values[i * C + j], den = h->row_normalised ? rmax : gmax;
            uint8_t c[3];
            blues(den > 0 ? v / den : 0, c);
            long x = left + (long)j * cell, y = top + (long)i * cell;
            rect(out, x, y, cell - 1, cell - 1, c);
            if (cell >= 18) { /* the value in the cell, white on dark */
                char buf[24];
                snprintf(buf, sizeof buf, h->integer ? "%.0f" : "%.2g", v);
                const uint8_t *tc = (c[0] + c[1] + c[2]) < 3 * 128 ? (const uint8_t[3]){255, 255, 255} : BLACK;
                long tw = (long)cr_text_width(buf, 1);
                if (tw <= cell - 2) text(out, x + (cell - 1 - tw) / 2, y + (cell - 1 - CR_FONT_HEIGHT) / 2, buf, 1, tc);
            }
        }
        if (h->row_names && h->row_names[i])
            text(out, left - 6 - (long)cr_text_width(h->row_names[i], 1),
                 top + (long)i * cell + (cell - CR_FONT_HEIGHT) / 2, h->row_names[i], 1, BLACK);
    }
    for (size_t j = 0; j < C; j++)
        if (h->col_names && h->col_names[j])
            text_up(out, left + (long)j * cell + (cell - CR_FONT_HEIGHT) / 2, top - 6, h->col_names[j], BLACK);
    if (h->col_axis) text(out, left + gw / 2 - (long)cr_text_width(h->col_axis, 1) / 2, th + 4, h->col_axis, 1, DARK);
    if (h->row_axis) text_up(out, 6, top + gh / 2 + (long)cr_text_width(h->row_axis, 1) / 2, h->row_axis, DARK);
    if (h->legend) text(out, 10, top + gh + 14, h->legend, 1, DARK);
    return CR_OK;
}
