/* folder.c: torchvision's ImageFolder layout, PNG and JPEG files:
 *   ROOT/train/CLASS/[SUB/...]IMAGE.png|.jpg|.jpeg  and  ROOT/test/CLASS/... (or ROOT/val/)
 * Classes: the sub-folders of train/ sorted by name (byte order, Python's
 * sorted for UTF-8 names), label = index; test/ may hold only those. Images:
 * each class folder walked as os.walk does with sorted names (its files in
 * name order, then its sub-folders in name order), extensions matched
 * without case. Files of the other extensions torchvision reads (.bmp, .ppm,
 * .pgm, .tif, .tiff, .webp) are refused by name; other files are skipped, as
 * torchvision skips them. An empty class folder is an error, as in
 * torchvision. Every image must have the size of the first training image
 * unless --resize H,W resizes them all (PIL's bilinear, image.c). Channels: 3
 * (torchvision's loader converts to RGB), or 1 when every image of both splits
 * is greyscale. Not here: decoding (image.c). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/formats.h"

#define FOLDER_MAX_DEPTH 16

typedef struct {
    char **paths;
    uint8_t *labels;
    int n, cap;
} file_list;

static void list_free(file_list *l) {
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths), free(l->labels);
    memset(l, 0, sizeof *l);
}

static int list_add(file_list *l, const char *path, int label, lr_error *err) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (p) l->paths = p;
        uint8_t *q = p ? realloc(l->labels, (size_t)cap) : NULL;
        if (q) l->labels = q;
        if (!p || !q) return lr_fail(err, "out of memory listing the images");
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path))) return lr_fail(err, "out of memory listing the images");
    l->labels[l->n++] = (uint8_t)label;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of dir (without . and ..), sorted; *n of them, malloc'd. */
static int sorted_entries(char ***out, int *n, const char *dir, lr_error *err) {
    *out = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return lr_fail(err, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct dirent *e;
    int cap = 0, rc = 0;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) { rc = lr_fail(err, "out of memory listing %s", dir); break; }
            *out = p;
        }
        if (!((*out)[*n] = strdup(e->d_name))) rc = lr_fail(err, "out of memory listing %s", dir);
        else (*n)++;
    }
    closedir(d);
    if (!rc && *n > 1) qsort(*out, (size_t)*n, sizeof **out, by_name); /* an empty folder has no array */
    return rc;
}

static void entries_free(char **e, int n) {
    for (int i = 0; i < n; i++) free(e[i]);
    free(e);
}

static int ext_is(const char *name, const char *const *exts) {
    const char *dot = strrchr(name, '.');
    for (int i = 0; dot && exts[i]; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

static const char *const readable[] = {".png", ".jpg", ".jpeg", NULL};
static const char *const refused[] = {".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", NULL};

/* The images under dir (os.walk order), appended with `label`. */
static int walk_class(file_list *l, const char *dir, int label, int depth, lr_error *err) {
    if (depth > FOLDER_MAX_DEPTH) return lr_fail(err, "%s: folders nested deeper than %d", dir, FOLDER_MAX_DEPTH);
    char **e;
    int n, rc = sorted_entries(&e, &n, dir, err);
    for (int pass = 0; !rc && pass < 2; pass++) /* files first, then sub-folders, as os.walk yields them */
        for (int i = 0; !rc && i < n; i++) {
            char path[4096];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, e[i]) >= (int)sizeof path) {
                rc = lr_fail(err, "%s/%s: path too long", dir, e[i]);
                break;
            }
            if (stat(path, &st)) continue; /* a dangling link: os.walk skips it too */
            if (S_ISDIR(st.st_mode)) {
                if (pass == 1) rc = walk_class(l, path, label, depth + 1, err);
            } else if (pass == 0 && ext_is(e[i], readable)) {
                rc = list_add(l, path, label, err);
            } else if (pass == 0 && ext_is(e[i], refused)) {
                rc = lr_fail(err, "%s: %s images are not supported (expected .png, .jpg or .jpeg; torchvision "
                                  "would read it, so lrlab does not skip it)", path, strrchr(e[i], '.'));
            }
        }
    entries_free(e, n);
    return rc;
}

/* The class folders of dir, sorted: names into d->names (when set_names), count into *classes. */
static int class_folders(char ***out, int *n, const char *dir, lr_error *err) {
    char **e;
    int m;
    if (sorted_entries(&e, &m, dir, err)) return -1;
    int k = 0;
    for (int i = 0; i < m; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e[i]);
        if (!stat(path, &st) && S_ISDIR(st.st_mode)) e[k++] = e[i];
        else free(e[i]);
    }
    *out = e, *n = k;
    return 0;
}

/* The files of one split: class folders of `dir` looked up in names (the classes). */
static int list_split(file_list *l, const char *dir, const dataset *d, lr_error *err) {
    char **cls;
    int n;
    if (class_folders(&cls, &n, dir, err)) return -1;
    int rc = n ? 0 : lr_fail(err, "%s: no class folders (expected DIR/CLASS/IMAGE.png|.jpg)", dir);
    for (int i = 0; !rc && i < n; i++) {
        int label = -1;
        for (int k = 0; k < d->classes && label < 0; k++)
            if (!strcmp(d->names[k], cls[i])) label = k;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, cls[i]);
        if (label < 0) {
            rc = lr_fail(err, "%s: a class that the training folder does not have (expected one of its %d classes)",
                         path, d->classes);
            break;
        }
        int before = l->n;
        rc = walk_class(l, path, label, 0, err);
        if (!rc && l->n == before)
            rc = lr_fail(err, "%s: an empty class folder: no .png, .jpg or .jpeg file (torchvision refuses it too)", path);
    }
    entries_free(cls, n);
    return rc;
}

/* Decodes the kept files of l into s (3 channels; *gray stays 1 while every image is greyscale). */
static int decode_split(data_split *s, const file_list *l, long keep, dataset *d, const data_options *o, int *gray,
                        char *first, const char *what, lr_error *err) {
    for (int i = 0; i < l->n; i++) {
        data_image im;
        if (image_read(&im, l->paths[i], err)) return -1;
        if (!d->h) { /* the first image sets the size */
            d->h = o->resize_h ? o->resize_h : im.h;
            d->w = o->resize_w ? o->resize_w : im.w;
            snprintf(first, 4096, "%s", l->paths[i]);
        }
        int rc = 0;
        if (o->resize_h) rc = image_resize(&im, d->h, d->w, l->paths[i], err);
        else if (im.h != d->h || im.w != d->w)
            rc = lr_fail(err, "%s: %dx%d pixels (width x height), but %s is %dx%d (every image must have one size: "
                              "pass --resize H,W to resize them all)", l->paths[i], im.w, im.h, first, d->w, d->h);
        if (!rc && !s->pixels && data_split_alloc(s, (int)keep, 3, d->h, d->w, what, err)) rc = -1;
        if (!rc && i < keep) {
            uint8_t *px = s->pixels + (size_t)i * data_image_bytes(s);
            size_t plane = (size_t)d->h * d->w;
            for (size_t p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++) px[c * plane + p] = im.px[p * im.c + (im.c == 3 ? c : 0)];
            s->labels[i] = l->labels[i];
        }
        *gray = *gray && im.c == 1;
        image_free(&im);
        if (rc) return -1;
    }
    return 0;
}

/* ROOT/test, else ROOT/val, into out. */
static int test_dir(char *out, size_t cap, const char *root, lr_error *err) {
    struct stat st;
    const char *names[2] = {"test", "val"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, cap, "%s/%s", root, names[i]);
        if (!stat(out, &st) && S_ISDIR(st.st_mode)) return 0;
    }
    return lr_fail(err, "%s: no test/ or val/ folder (expected ROOT/train/CLASS/IMAGE and ROOT/test/CLASS/IMAGE)", root);
}

int folder_load(dataset *d, const data_options *o, const char *root, lr_error *err) {
    struct stat st;
    if (stat(root, &st) || !S_ISDIR(st.st_mode))
        return lr_fail(err, "%s: %s (expected a folder holding train/ and test/ (or val/), one sub-folder per class)",
                       root, stat(root, &st) ? strerror(errno) : "not a directory");
    char train_dir[4096], tdir[4096];
    snprintf(train_dir, sizeof train_dir, "%s/train", root);
    if (stat(train_dir, &st) || !S_ISDIR(st.st_mode))
        return lr_fail(err, "%s: missing (expected ROOT/train/CLASS/IMAGE: the classes are its sub-folders)", train_dir);
    if (test_dir(tdir, sizeof tdir, root, err)) return -1;
    char **cls;
    int n;
    if (class_folders(&cls, &n, train_dir, err)) return -1;
    int rc = n > DATA_MAX_CLASSES ? lr_fail(err, "%s: %d class folders (expected at most %d)", train_dir, n,
                                            DATA_MAX_CLASSES) : 0;
    for (int i = 0; !rc && i < n; i++) {
        if (strlen(cls[i]) >= DATA_NAME_BYTES)
            rc = lr_fail(err, "%s/%s: a class name of %zu bytes (expected at most %d)", train_dir, cls[i], strlen(cls[i]),
                         DATA_NAME_BYTES - 1);
        else snprintf(d->names[i], DATA_NAME_BYTES, "%s", cls[i]);
    }
    entries_free(cls, n);
    if (rc) return -1;
    d->classes = n;
    file_list tr = {0}, te = {0};
    long keep_train = 0, keep_test = 0;
    int gray = 1;
    char first[4096] = "";
    rc = list_split(&tr, train_dir, d, err) || list_split(&te, tdir, d, err) ||
         (o->train && data_keep(&keep_train, o->limit_train, tr.n, "--limit-train", train_dir, err)) ||
         data_keep(&keep_test, o->limit_test, te.n, "--limit-test", tdir, err) ||
         (o->train && decode_split(&d->train, &tr, keep_train, d, o, &gray, first, "training images", err)) ||
         decode_split(&d->test, &te, keep_test, d, o, &gray, first, "test images", err);
    list_free(&tr), list_free(&te);
    if (rc) return -1;
    d->c = gray ? 1 : 3;
    data_split *splits[2] = {&d->train, &d->test};
    for (int k = 0; gray && k < 2; k++) splits[k]->c = 1; /* channel 0 of each image, packed */
    for (int k = 0; gray && k < 2; k++)
        for (int i = 0; i < splits[k]->n; i++)
            memmove(splits[k]->pixels + (size_t)i * d->h * d->w, splits[k]->pixels + (size_t)i * 3 * d->h * d->w,
                    (size_t)d->h * d->w);
    if (gray) d->norm = (data_norm){{0.5f}, {0.5f}};
    else d->norm = (data_norm){{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; /* ImageNet's, torchvision's docs */
    return 0;
}

/* The training images: the readable files under ROOT/train's class folders. */
int folder_probe(const char *root, long *n_train, lr_error *err) {
    *n_train = 0;
    dataset *d = lr_calloc(1, sizeof *d, "folder listing", err);
    if (!d) return -1;
    char train_dir[4096];
    snprintf(train_dir, sizeof train_dir, "%s/train", root);
    char **cls;
    int n, rc = class_folders(&cls, &n, train_dir, err);
    if (!rc) {
        for (int i = 0; i < n && i < DATA_MAX_CLASSES; i++) snprintf(d->names[i], DATA_NAME_BYTES, "%s", cls[i]);
        d->classes = n < DATA_MAX_CLASSES ? n : DATA_MAX_CLASSES;
        entries_free(cls, n);
        file_list l = {0};
        rc = list_split(&l, train_dir, d, err);
        *n_train = l.n;
        list_free(&l);
    }
    free(d);
    return rc;
}
