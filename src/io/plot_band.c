/*
 * plot_band.c — a line plot of two curves against x with the band between them shaded, written as PNG
 * (`chainrule certify --png`: attacked accuracy above, certified accuracy below, the unknown gap shaded). Drawn on
 * a cr_image with the built-in 5x7 font; y is a fraction shown as 0..100 %.
 */
#include "chainrule_data.h"
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW 720 /* canvas */
#define PH 460
#define ML 64 /* plot area margins */
#define MR 24
#define MT 56
#define MB 58

static const uint8_t BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, SHADE[3] = {255, 222, 173},
                     AXIS[3] = {90, 90, 90};

static void put(cr_image *im, long x, long y, const uint8_t c[3]) {
    if (x < 0 || y < 0 || (size_t)x >= im->width || (size_t)y >= im->height) return;
    uint8_t *o = im->rgb + ((size_t)y * im->width + (size_t)x) * 3;
    o[0] = c[0], o[1] = c[1], o[2] = c[2];
}

static void rect(cr_image *im, long x0, long y0, long x1, long y1, const uint8_t c[3]) {
    for (long y = y0; y <= y1; y++)
        for (long x = x0; x <= x1; x++) put(im, x, y, c);
}

/* a line 3 pixels thick (Bresenham, a 3x3 dot per step) */
static void line(cr_image *im, long x0, long y0, long x1, long y1, const uint8_t c[3], int thick) {
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        if (thick) rect(im, x0 - 1, y0 - 1, x0 + 1, y0 + 1, c);
        else put(im, x0, y0, c);
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static double nice_step(double range) {
    const double raw = range / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void text_centered(cr_image *im, long cx, long y, const char *s, size_t scale, const uint8_t c[3]) {
    long w = (long)cr_text_width(s, scale);
    cr_image_draw_text(im, (size_t)(cx - w / 2 > 0 ? cx - w / 2 : 0), (size_t)y, s, scale, c);
}

/* y of a curve at pixel column px (linear interpolation between the points; NaN outside) */
static double at(const cr_plot_band *p, const double *y, double x) {
    if (x < p->x[0] || x > p->x[p->n - 1]) return NAN;
    for (size_t i = 0; i + 1 < p->n; i++)
        if (x <= p->x[i + 1]) {
            const double w = p->x[i + 1] - p->x[i];
            return w > 0 ? y[i] + (y[i + 1] - y[i]) * (x - p->x[i]) / w : y[i + 1];
        }
    return y[p->n - 1];
}

cr_status cr_plot_band_png(const char *path, const cr_plot_band *p) {
    if (!p || p->n == 0 || !p->x || !p->upper || !p->lower)
        return cr_fail(CR_ERR_FORMAT, "%s: nothing to plot", path);
    for (size_t i = 0; i < p->n; i++)
        if (!isfinite(p->x[i]) || (i && p->x[i] < p->x[i - 1]) || !(p->upper[i] >= 0 && p->upper[i] <= 1) ||
            !(p->lower[i] >= 0 && p->lower[i] <= 1))
            return cr_fail(CR_ERR_FORMAT, "%s: point %zu is not plottable (x increasing, y fractions in [0, 1])", path,
                                i);
    cr_image im = {PW, PH, malloc((size_t)PW * PH * 3)};
    if (!im.rgb) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
    memset(im.rgb, 255, (size_t)PW * PH * 3);
    const long x0 = ML, x1 = PW - MR, y0 = PH - MB, y1 = MT; /* plot area: x0..x1 left to right, y0 bottom */
    double xlo = p->x[0], xhi = p->x[p->n - 1];
    if (!(xhi > xlo)) xlo -= 0.5 * (fabs(xlo) > 0 ? fabs(xlo) : 1), xhi = xlo + 2 * (p->x[0] - xlo);
    const double xs = (double)(x1 - x0) / (xhi - xlo);
#define PX(v) (x0 + lround(((v) - xlo) * xs))
#define PY(v) (y0 - lround((v) * (double)(y0 - y1)))
    /* grid and ticks */
    char buf[64];
    for (int t = 0; t <= 4; t++) {
        const long y = PY(t / 4.0);
        line(&im, x0, y, x1, y, GRID, 0);
        snprintf(buf, sizeof buf, "%d%%", 25 * t);
        cr_image_draw_text(&im, (size_t)(x0 - 8 - (long)cr_text_width(buf, 1)), (size_t)(y - 3), buf, 1, BLACK);
    }
    const double step = nice_step(xhi - xlo);
    for (double v = ceil(xlo / step) * step; v <= xhi + 1e-9 * step; v += step) {
        const long x = PX(v);
        line(&im, x, y0, x, y1, GRID, 0);
        line(&im, x, y0, x, y0 + 4, AXIS, 0);
        snprintf(buf, sizeof buf, "%.4g", fabs(v) < 1e-12 * step ? 0.0 : v);
        text_centered(&im, x, y0 + 8, buf, 1, BLACK);
    }
    /* the band */
    for (long x = x0; x <= x1; x++) {
        const double v = xlo + (double)(x - x0) / xs, hi = at(p, p->upper, v), lo = at(p, p->lower, v);
        if (!isnan(hi) && !isnan(lo) && hi > lo) rect(&im, x, PY(hi), x, PY(lo), SHADE);
    }
    /* axes */
    line(&im, x0, y0, x1, y0, AXIS, 0);
    line(&im, x0, y0, x0, y1, AXIS, 0);
    /* the curves, with markers when the points are few */
    const uint8_t *col[2] = {p->upper_rgb, p->lower_rgb};
    const double *ys[2] = {p->upper, p->lower};
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i + 1 < p->n; i++)
            line(&im, PX(p->x[i]), PY(ys[c][i]), PX(p->x[i + 1]), PY(ys[c][i + 1]), col[c], 1);
        if (p->n <= 40)
            for (size_t i = 0; i < p->n; i++) {
                const long x = PX(p->x[i]), y = PY(ys[c][i]);
                rect(&im, x - 3, y - 3, x + 3, y + 3, col[c]);
            }
    }
    /* labels, title, legend */
    if (p->title) text_centered(&im, PW / 2, 12, p->title, 2, BLACK);
    if (p->ylabel) cr_image_draw_text(&im, 8, (size_t)(MT - 20), p->ylabel, 1, BLACK);
    if (p->xlabel) text_centered(&im, (x0 + x1) / 2, PH - 22, p->xlabel, 2, BLACK);
    const char *names[3] = {p->upper_name, p->lower_name, p->band_name};
    size_t lw = 0;
    for (int i = 0; i < 3; i++)
        if (names[i] && cr_text_width(names[i], 1) > lw) lw = cr_text_width(names[i], 1);
    const long lx = x1 - (long)lw - 44, ly = y1 + 10;
    rect(&im, lx - 8, ly - 8, x1 - 8, ly + 3 * 16 + 2, (const uint8_t[3]){255, 255, 255});
    for (int i = 0; i < 3; i++) {
        if (!names[i]) continue;
        const long y = ly + 16 * i;
        if (i < 2) line(&im, lx, y + 3, lx + 22, y + 3, col[i], 1);
        else rect(&im, lx, y - 2, lx + 22, y + 8, SHADE);
        cr_image_draw_text(&im, (size_t)(lx + 30), (size_t)y, names[i], 1, BLACK);
    }
#undef PX
#undef PY
    const int rc = cr_image_write_png(path, &im);
    cr_image_free(&im);
    return cr_io_status(rc);
}
