/*
 * test_png — PNG write/read round trips (gray and RGB, through libpng),
 * atomic write failure, reader errors, colormaps, the 5x7 font and the image
 * grid's canvas geometry and colours.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_data.h"
#include "testutil.h"

#define ASSERT_ERR(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("error '%s' lacks '%s'", (msg), (sub));           \
    } while (0)

static void test_gray_roundtrip(void **state) {
    (void)state;
    size_t w = 7, h = 5;
    uint8_t px[35];
    for (size_t i = 0; i < w * h; i++) px[i] = (uint8_t)(i * 37 + 1);
    const char *p = tu_path("gray.png");
    assert_int_equal(cr_png_write_gray(p, px, w, h), 0);
    uint8_t *back = NULL;
    size_t bw, bh;
    int ch;
    assert_int_equal(cr_png_read(p, &back, &bw, &bh, &ch), 0);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    assert_int_equal(ch, 1);
    assert_memory_equal(back, px, w * h);
    free(back);
}

static void test_rgb_roundtrip(void **state) {
    (void)state;
    size_t w = 6, h = 4;
    uint8_t px[6 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 11 + 5);
    const char *p = tu_path("rgb.png");
    assert_int_equal(cr_png_write_rgb(p, px, w, h), 0);
    /* overwrite atomically with a 1x1 picture */
    uint8_t one[3] = {1, 2, 3};
    assert_int_equal(cr_png_write_rgb(p, one, 1, 1), 0);
    uint8_t *back = NULL;
    size_t bw, bh;
    int ch;
    assert_int_equal(cr_png_read(p, &back, &bw, &bh, &ch), 0);
    assert_int_equal(bw, 1);
    assert_int_equal(bh, 1);
    assert_int_equal(ch, 3);
    assert_memory_equal(back, one, 3);
    free(back);
    assert_int_equal(cr_png_write_rgb(p, px, w, h), 0);
    assert_int_equal(cr_png_read(p, &back, &bw, &bh, &ch), 0);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    assert_int_equal(ch, 3);
    assert_memory_equal(back, px, sizeof px);
    free(back);
}

static void test_errors(void **state) {
    (void)state;
    uint8_t px[4] = {0};
    assert_int_not_equal(cr_png_write_gray(tu_path("e.png"), px, 0, 2), CR_OK);
    ASSERT_ERR(cr_last_error(), "e.png: cannot write an empty picture (0 x 2)");
    assert_int_not_equal(cr_png_write_gray(tu_path("e.png"), px, 200000, 1), CR_OK);
    ASSERT_ERR(cr_last_error(), "exceeds the limit of 100000 pixels a side");
    assert_false(tu_file_exists(tu_path("e.png")));
    /* a folder that does not exist: the atomic writer fails, nothing is left */
    (void)cr_fail(CR_OK, "%s", "");
    assert_int_not_equal(cr_png_write_gray(tu_path("no/such/dir/x.png"), px, 2, 2), CR_OK);
    assert_true(cr_last_error()[0] != 0);
    assert_false(tu_file_exists(tu_path("no/such/dir/x.png")));

    uint8_t *back = (uint8_t *)1;
    size_t bw = 1, bh = 1;
    int ch = 1;
    const char *junk = tu_path("junk.png");
    assert_int_equal(tu_write_file(junk, "not a png at all", 16), 0);
    assert_int_not_equal(cr_png_read(junk, &back, &bw, &bh, &ch), CR_OK);
    ASSERT_ERR(cr_last_error(), "junk.png: not a readable PNG");
    assert_null(back);
    assert_int_not_equal(cr_png_read(tu_tmpdir(), &back, &bw, &bh, &ch), CR_OK);
    ASSERT_ERR(cr_last_error(), "is a directory, not a PNG file");
    assert_int_not_equal(cr_png_read(tu_path("nope.png"), &back, &bw, &bh, &ch), CR_OK);
    ASSERT_ERR(cr_last_error(), "nope.png: No such file or directory");

    /* a truncated PNG */
    uint8_t big[64 * 64];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 2654435761u >> 24);
    const char *p = tu_path("full.png");
    assert_int_equal(cr_png_write_gray(p, big, 64, 64), 0);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *t = tu_path("trunc.png");
    assert_int_equal(tu_write_file(t, buf, n / 2), 0);
    assert_int_not_equal(cr_png_read(t, &back, &bw, &bh, &ch), CR_OK);
    ASSERT_ERR(cr_last_error(), "trunc.png: ");
    assert_null(back);
}

static void test_colormaps(void **state) {
    (void)state;
    uint8_t c[3];
    cr_colormap_rgb(CR_CMAP_GRAY, 0.0f, c);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
    cr_colormap_rgb(CR_CMAP_GRAY, 1.0f, c);
    assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255);
    cr_colormap_rgb(CR_CMAP_GRAY, 0.5f, c);
    assert_true(c[0] == 128 && c[1] == 128 && c[2] == 128);
    cr_colormap_rgb(CR_CMAP_GRAY, 7.0f, c); /* clipped */
    assert_true(c[0] == 255);
    cr_colormap_rgb(CR_CMAP_DIVERGING, 0.5f, c);
    assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255);
    cr_colormap_rgb(CR_CMAP_DIVERGING, 0.0f, c);
    assert_true(c[0] == 33 && c[1] == 102 && c[2] == 172);
    cr_colormap_rgb(CR_CMAP_DIVERGING, 1.0f, c);
    assert_true(c[0] == 178 && c[1] == 24 && c[2] == 43);
    cr_colormap_rgb(CR_CMAP_DIVERGING, 0.3f, c);
    assert_true(c[2] > c[0]); /* bluish */
    cr_colormap_rgb(CR_CMAP_DIVERGING, 0.7f, c);
    assert_true(c[0] > c[2]); /* reddish */
    cr_colormap_rgb(CR_CMAP_HOT, 0.0f, c);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
    cr_colormap_rgb(CR_CMAP_HOT, 1.0f / 3.0f, c);
    assert_true(c[0] == 255 && c[1] == 0 && c[2] == 0);
    cr_colormap_rgb(CR_CMAP_HOT, 1.0f, c);
    assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255);
    cr_colormap_rgb(CR_CMAP_HOT, NAN, c);
    assert_true(c[0] == 255 && c[1] == 0 && c[2] == 255);
}

static void test_text(void **state) {
    (void)state;
    assert_int_equal(cr_text_width("T:3 P:5", 1), 41);
    assert_int_equal(cr_text_width("T:3 P:5", 2), 82);
    assert_int_equal(cr_text_width("", 1), 0);
    assert_int_equal(cr_text_width(NULL, 1), 0);
    cr_image img = {12, 9, calloc(12 * 9 * 3, 1)};
    assert_non_null(img.rgb);
    memset(img.rgb, 255, 12 * 9 * 3);
    const uint8_t red[3] = {255, 0, 0};
    /* "1" and "-": '1' has its stem in column 2; '-' is row 3 */
    cr_image_draw_text(&img, 1, 1, "1-", 1, red);
    const uint8_t *stem = img.rgb + ((1 + 1) * 12 + 1 + 2) * 3;  /* row 1, col 2 of '1' */
    assert_true(stem[0] == 255 && stem[1] == 0);
    const uint8_t *dash = img.rgb + ((1 + 3) * 12 + 1 + 6 + 0) * 3; /* row 3 of '-' */
    assert_true(dash[0] == 255 && dash[1] == 0);
    const uint8_t *blank = img.rgb + ((1 + 0) * 12 + 1 + 6) * 3; /* row 0 of '-' */
    assert_true(blank[1] == 255);
    /* drawing past the edges is clipped, not a crash (ASan) */
    cr_image_draw_text(&img, 10, 7, "W?~\xc3\xa9", 3, red);
    cr_image_free(&img);
    assert_null(img.rgb);
}

static void test_grid(void **state) {
    (void)state;
    float input[28 * 28], attr[28 * 28], heat[28 * 28];
    for (int i = 0; i < 28 * 28; i++) {
        input[i] = (float)(i % 28) / 27.0f;
        attr[i] = 0.0f;
        heat[i] = (float)i;
    }
    attr[0] = 2.0f;   /* max |value|: red */
    attr[1] = -2.0f;  /* blue */
    attr[2] = -0.5f;
    cr_image_tile tiles[3] = {
        {input, 28, 28, CR_CMAP_GRAY, 0.0f, 1.0f, "T:3 P:5", 0},
        {attr, 28, 28, CR_CMAP_DIVERGING, 0.0f, 0.0f, "grad", 0},
        {heat, 28, 28, CR_CMAP_HOT, 0.0f, 0.0f, NULL, 0},
    };
    cr_grid_options opt = {2, 2, 3, 1};
    cr_image img;
    assert_int_equal(cr_image_grid(tiles, 3, &opt, &img), 0);
    /* cell 56 x 56, label 9, two columns, two rows, pad 3 */
    assert_int_equal(img.width, 2 * 56 + 3 * 3);
    assert_int_equal(img.height, 2 * (9 + 56) + 3 * 3);
#define PX(x, y) (img.rgb + ((size_t)(y) * img.width + (size_t)(x)) * 3)
    /* padding is white */
    assert_true(PX(0, 0)[0] == 255 && PX(0, 0)[1] == 255 && PX(0, 0)[2] == 255);
    /* tile 0 starts at (3, 3 + 9): leftmost column black, rightmost white */
    assert_true(PX(3, 12)[0] == 0 && PX(4, 13)[0] == 0);
    assert_true(PX(3 + 55, 12)[0] == 255);
    /* tile 1 at x = 3 + 56 + 3 = 62: pixels 0, 1, 2 at 2x scale */
    const uint8_t *r = PX(62, 12), *b = PX(64, 13), *z = PX(62 + 10, 12 + 10);
    assert_true(r[0] == 178 && r[1] == 24 && r[2] == 43);
    assert_true(b[0] == 33 && b[1] == 102 && b[2] == 172);
    assert_true(z[0] == 255 && z[1] == 255 && z[2] == 255);
    /* tile 2 (hot, no label) in row 1 at y = 3 + 65 + 3 + 9: first black, last white */
    assert_true(PX(3, 80)[0] == 0 && PX(3, 80)[1] == 0);
    const uint8_t *hw = PX(3 + 55, 80 + 55);
    assert_true(hw[0] == 255 && hw[1] == 255 && hw[2] == 255);
    /* the label of tile 0 has black pixels, the unused last cell stays white */
    int black = 0;
    for (size_t y = 3; y < 3 + 7; y++)
        for (size_t x = 3; x < 3 + 41; x++) black += PX(x, y)[0] == 0;
    assert_true(black > 20);
    for (size_t y = 71; y < img.height; y++)
        for (size_t x = 62; x < img.width; x++) assert_true(PX(x, y)[1] == 255);
#undef PX
    /* write it and read it back */
    const char *p = tu_path("grid.png");
    assert_int_equal(cr_image_write_png(p, &img), 0);
    uint8_t *back;
    size_t w, h;
    int ch;
    assert_int_equal(cr_png_read(p, &back, &w, &h, &ch), 0);
    assert_int_equal(w, img.width);
    assert_int_equal(h, img.height);
    assert_int_equal(ch, 3);
    assert_memory_equal(back, img.rgb, w * h * 3);
    free(back);
    cr_image_free(&img);

    /* one row by default (cols 0), no labels: no label band; scale 1 */
    tiles[0].label = NULL;
    tiles[1].label = "";
    cr_grid_options o1 = {0, 1, 2, 1};
    assert_int_equal(cr_image_grid(tiles, 3, &o1, &img), 0);
    assert_int_equal(img.width, 3 * 28 + 4 * 2);
    assert_int_equal(img.height, 28 + 2 * 2);
    cr_image_free(&img);

    /* a label wider than its tile widens every cell */
    float tiny[4] = {0, 1, 2, 3};
    cr_image_tile t2[2] = {{tiny, 2, 2, CR_CMAP_GRAY, 0, 0, "ABCDEF", 0},
                           {tiny, 2, 2, CR_CMAP_HOT, 0, 0, "x", 0}};
    assert_int_equal(cr_image_grid(t2, 2, NULL, &img), 0); /* scale 4, pad 4 */
    assert_int_equal(img.width, 2 * 35 + 3 * 4);
    assert_int_equal(img.height, 9 + 8 + 2 * 4);
    cr_image_free(&img);

    /* errors */
    assert_int_not_equal(cr_image_grid(t2, 0, NULL, &img), CR_OK);
    ASSERT_ERR(cr_last_error(), "image grid: no tiles");
    t2[1].values = NULL;
    assert_int_not_equal(cr_image_grid(t2, 2, NULL, &img), CR_OK);
    ASSERT_ERR(cr_last_error(), "image grid: tile 1 is empty");
    assert_null(img.rgb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gray_roundtrip), cmocka_unit_test(test_rgb_roundtrip),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_colormaps),
        cmocka_unit_test(test_text),           cmocka_unit_test(test_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
