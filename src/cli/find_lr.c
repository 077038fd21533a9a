/* cli/find_lr.c: `lrlab find-lr [train flags] [--start-lr 1e-7] [--end-lr 10]
 * [--steps 100] [--smooth 0.98] [--out DIR | -o FILE.csv] [--plot FILE.png]`:
 * the learning-rate range test (lrlab/findlr.h) on the training images, with
 * the training settings of `lrlab train` (data, model, batch, seed,
 * momentum, weight decay, augmentation, --val hold-out, backend, ...).
 * Prints `suggested_lr=<lr>` (steepest fall of the smoothed loss) and
 * `min_loss_lr_div10=<lr>`; writes the curve as CSV (step,lr,loss,
 * smoothed_loss) and optionally a plot (gnuplot; cli/plot.c renders it).
 * Never touches the test images beyond dataset_load's validation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/findlr.h"
#include "lrlab/io.h"
#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/setup.h"


/* train settings that make no sense here: the range test owns the lr */
static const char *const refused[] = {"lr", "sched", "sched_unit", "epochs", "monitor", "log_steps", "limit_test",
                                      "param_group", NULL};
/* left out of the help: the refused ones, and --out (find-lr's own) */
static const char *const not_listed[] = {"lr", "sched", "sched_unit", "epochs", "monitor", "log_steps", "limit_test",
                                         "param_group", "out", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab find-lr [train flags] [--start-lr LR] [--end-lr LR] [--steps N] [--smooth B]\n"
               "                     [--out DIR | -o FILE.csv] [--plot FILE.png|FILE.svg]\n\n"
               "The learning-rate range test (Smith 2017, as fastai's lr_find): one SGD step per training\n"
               "batch while the lr grows exponentially from --start-lr to --end-lr; stops when the\n"
               "smoothed loss exceeds 4x its lowest value or turns NaN/Inf; the weights are not kept.\n"
               "Prints suggested_lr= (steepest fall of the smoothed loss) and min_loss_lr_div10=.\n"
               "  --start-lr LR        first lr (1e-7)\n"
               "  --end-lr LR          last lr (10)\n"
               "  --steps N            steps, one batch each (100); epochs restart when batches run out\n"
               "  --smooth B           beta of the loss's moving average (0.98)\n"
               "  --out DIR            write DIR/lr_find.csv and DIR/lr_find.png (the plot when gnuplot is there)\n"
               "  -o FILE.csv          write the curve here: step,lr,loss,smoothed_loss\n"
               "  --plot FILE          draw loss against lr (log scale) with the suggestion marked (.png or .svg)\n"
               "  --retune             time the convolution algorithms again and keep the new choice (as train)\n\n"
               "train flags (as lrlab train):\n");
    config_print_help(f, NULL, not_listed);
}

static int write_csv(const char *path, const findlr_result *r, lr_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return lr_fail(err, "out of memory");
    fprintf(f, "step,lr,loss,smoothed_loss\n");
    for (int i = 0; i < r->n; i++) fprintf(f, "%d,%.9g,%.9g,%.9g\n", i, r->lr[i], r->loss[i], r->smoothed[i]);
    fclose(f);
    int rc = write_file_atomic(path, text, len, err);
    free(text);
    return rc;
}

/* Loss against lr (log axis); the two suggestions as vertical lines, each named in the legend. */
static int draw(const char *path, const findlr_result *r, lr_error *err) {
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return lr_fail(err, "out of memory");
    /* the y range: the smoothed loss up to its minimum, padded; the diverging tail would otherwise
     * flatten the interesting part */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < r->n; i++) lo = fmin(lo, r->smoothed[i]);
    for (int i = 0; i <= r->min_index; i++) hi = fmax(hi, r->smoothed[i]);
    double pad = (hi - lo) * 0.1 + 1e-3, y0 = lo - pad, y1 = hi + 3 * pad;
    fprintf(f, "$d << EOD\n");
    for (int i = 0; i < r->n; i++) fprintf(f, "%.9g %.9g %.9g\n", r->lr[i], r->loss[i], r->smoothed[i]);
    fprintf(f, "EOD\n$s << EOD\n%.9g %.9g\nEOD\n", r->suggested_lr, r->smoothed[r->steep_index]);
    fprintf(f, "$v << EOD\n%.9g %.9g\n%.9g %.9g\n\n\n%.9g %.9g\n%.9g %.9g\nEOD\n", r->suggested_lr, y0,
            r->suggested_lr, y1, r->min_loss_lr_div10, y0, r->min_loss_lr_div10, y1);
    figure_lr_axis(f, 'x', r->lr[0], r->lr[r->n - 1]);
    fprintf(f, "set grid\nset key bottom left opaque box\nset xlabel 'learning rate'\nset ylabel 'training loss'\n"
               "set yrange [%.9g:%.9g]\nset title 'lr range test'\n", y0, y1);
    fprintf(f, "plot $d using 1:2 with lines lc rgb '#bbbbbb' title 'batch loss', "
               "$d using 1:3 with lines lc rgb '#1f77b4' lw 2 title 'smoothed loss', "
               "$v index 0 using 1:2 with lines lc rgb '#d62728' lw 2 dt (8,5) "
               "title sprintf('suggested lr %%.3g (steepest fall)', %.9g), "
               "$s using 1:2 with points pt 7 ps 1.5 lc rgb '#d62728' notitle, "
               "$v index 1 using 1:2 with lines lc rgb '#2ca02c' lw 2 dt (2,3) "
               "title sprintf('min-loss lr / 10 = %%.3g', %.9g)\n",
            r->suggested_lr, r->min_loss_lr_div10);
    fclose(f);
    int rc = figure_render(path, 900, 600, body, err);
    free(body);
    return rc;
}

int cli_find_lr(int argc, char **argv) {
    train_config cfg;
    config_defaults(&cfg);
    findlr_config fc;
    findlr_defaults(&fc);
    int retune = 0;
    const char *out_dir = NULL, *csv = NULL, *plot = NULL, *start_s = NULL, *end_s = NULL, *steps_s = NULL,
               *smooth_s = NULL;
    const cli_opt opts[] = {{"--start-lr", &start_s, NULL}, {"--end-lr", &end_s, NULL}, {"--steps", &steps_s, NULL},
                            {"--smooth", &smooth_s, NULL},  {"--out", &out_dir, NULL},  {"-o", &csv, NULL},
                            {"--plot", &plot, NULL},        {"--retune", NULL, &retune}, {NULL, NULL, NULL}};
    lr_error err;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "find-lr");
        if (rc < 0) return 2;
        if (rc > 0) {
            i++;
            continue;
        }
        if (!strncmp(a, "--", 2) && lr_key_find(a + 2, strcspn(a + 2, "="), refused) >= 0) {
            fprintf(stderr, "lrlab find-lr: %s does not apply: the range test sweeps the lr from --start-lr "
                            "to --end-lr over --steps batches\n", a);
            return 2;
        }
        rc = config_take_arg(&cfg, argc, argv, &i, &err);
        if (rc < 0) return cli_error("find-lr", &err, 2);
        if (rc == 0) return cli_unknown("find-lr", a, opts, 1);
    }
    cli_default_data(&cfg);
    long steps = fc.steps;
    if ((start_s && lr_parse_double(&fc.start_lr, start_s, 1e-30, 1e6, "--start-lr", &err)) ||
        (end_s && lr_parse_double(&fc.end_lr, end_s, 1e-30, 1e6, "--end-lr", &err)) ||
        (smooth_s && lr_parse_double(&fc.beta, smooth_s, 0, 0.999999, "--smooth", &err)) ||
        (steps_s && lr_parse_long(&steps, steps_s, 2, 1000000, "--steps", &err)))
        return cli_error("find-lr", &err, 2);
    fc.steps = (int)steps;
    if (!(fc.end_lr > fc.start_lr)) {
        fprintf(stderr, "lrlab find-lr: --end-lr %g must be larger than --start-lr %g\n", fc.end_lr, fc.start_lr);
        return 2;
    }
    if (out_dir && csv) {
        fprintf(stderr, "lrlab find-lr: give --out DIR or -o FILE.csv, not both\n");
        return 2;
    }
    char csv_path[1200], plot_path[1200];
    int plot_optional = 0;
    if (out_dir) {
        if (make_dirs(out_dir, "--out", &err)) return cli_error("find-lr", &err, 1);
        snprintf(csv_path, sizeof csv_path, "%s/lr_find.csv", out_dir);
        csv = csv_path;
        if (!plot) {
            snprintf(plot_path, sizeof plot_path, "%s/lr_find.png", out_dir);
            plot = plot_path;
            plot_optional = 1;
        }
    }
    int bad = plot ? figure_check(plot, "--plot", !plot_optional, &err) : 0;
    if (bad) return cli_error("find-lr", &err, bad);
    if (config_optim(&cfg, &fc.optim, &err)) return cli_error("find-lr", &err, 2);
    fc.batch = cfg.batch, fc.seed = (uint64_t)cfg.seed, fc.loss = cfg.loss;
    char optim_text[512];
    optim_format(optim_text, sizeof optim_text, &fc.optim, 1);
    /* the training images only: the test split is validated with one image and not used */
    setup_options so = {.training = 1, .weights = cfg.init[0] ? cfg.init : NULL, .whiten = 1,
                        .model_search = cli_search_dirs("models"), .retune = retune, .log = stdout, .warn = stderr};
    train_setup r;
    memset(&r, 0, sizeof r);
    findlr_result res;
    memset(&res, 0, sizeof res);
    int rc = train_setup_init(&r, &cfg, &so, &err);
    if (!rc) {
        printf("lrlab find-lr: model %s, %d training images, batch %d (%d batches/epoch), lr %g .. %g over %d steps, "
               "%s, seed %ld\n",
               r.m.name, r.data.train.n, cfg.batch, loader_batches(r.train_loader), fc.start_lr, fc.end_lr, fc.steps,
               optim_text, cfg.seed);
        fflush(stdout);
        if (findlr_run(&res, &fc, r.net, &r.m, r.params, r.buffers, r.train_loader, &err)) rc = -1;
    }
    if (!rc) {
        const findlr_result *s = &res;
        if (s->stop == FINDLR_STOP_DIVERGED)
            printf("stopped at step %d (lr %.4g): smoothed loss %.4g > %g x lowest\n", s->stop_step,
                   s->lr[s->n - 1], s->smoothed[s->n - 1], fc.diverge);
        else if (s->stop == FINDLR_STOP_NONFINITE)
            printf("stopped at step %d: the loss or a gradient is NaN/Inf\n", s->stop_step);
        else printf("ran all %d steps without diverging (raise --end-lr to see the divergence)\n", fc.steps);
        printf("steepest fall of the smoothed loss at lr %.4g; lowest smoothed loss %.4f at lr %.4g\n",
               s->suggested_lr, s->smoothed[s->min_index], s->lr[s->min_index]);
        printf("suggested_lr=%.4g\nmin_loss_lr_div10=%.4g\n", s->suggested_lr, s->min_loss_lr_div10);
        if (csv && write_csv(csv, s, &err)) rc = -1;
        else if (csv) printf("wrote %s\n", csv);
    }
    if (!rc && plot) {
        if (draw(plot, &res, &err)) {
            if (!plot_optional) rc = -1;
            else fprintf(stderr, "lrlab find-lr: no plot: %s\n", err.msg);
        } else {
            printf("wrote %s\n", plot);
        }
    }
    findlr_result_free(&res);
    train_setup_free(&r);
    return rc ? cli_error("find-lr", &err, 1) : 0;
}
