/* tests/test_sweep.c: the sweep-file parser and flag resolution
 * (lrlab/sweep.h): quoting, comments and continuations, every error with
 * its line, placeholders, command-line overrides, and experiments/
 * seed.sweep and airbench94.sweep themselves. Runs no training
 * (tests/sweep_test.sh does). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "lrlab/average.h"
#include "lrlab/data.h"
#include "lrlab/sweep.h"
#include "test.h"

static int parse(sweep_file *s, const char *text, lr_error *err) {
    return sweep_parse(s, text, strlen(text), "x.sweep", err);
}

/* The file must be refused with a message containing `want`. */
static void check_error(const char *text, const char *want) {
    sweep_file s;
    lr_error err = {{0}};
    int rc = parse(&s, text, &err);
    CHECK(rc == -1 && strstr(err.msg, want), "parsing\n%s\ngave rc %d, message '%s'; wanted '%s'", text, rc,
          err.msg, want);
    CHECK(s.n_runs == 0 && s.runs == NULL, "a failed parse leaves the file empty");
    sweep_free(&s);
}

/* The value of the last resolved flag called key, or NULL. */
static const char *flag_value(const sweep_flags *f, const char *key) {
    for (int i = f->n - 1; i >= 0; i--)
        if (!strcmp(f->flags[i].key, key)) return f->flags[i].value;
    return NULL;
}

static void test_syntax(void) {
    const char *text =
        "# a comment line\n"
        "sweep demo   # a comment after a directive\n"
        "\n"
        "defaults --epochs 3 \\\n"
        "   --batch=64 --no-augment\n"
        "defaults --weight-decay 0\r\n"
        "run a --lr 0.1 --sched 'StepLR(step_size=2, gamma=0.5)'\n"
        "run b.2_x --sched \"MultiStepLR(milestones=[1, 2], gamma=0.5)\" --nesterov\n"
        "  run c --lr=0.2 --model my\\ model\\#1 --init \"a \\\"q\\\" \\\\ b\" --data ''\n"
        "run d --model a#b\n";
    sweep_file s;
    lr_error err = {{0}};
    int rc = parse(&s, text, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    CHECK(!strcmp(s.name, "demo"), "name %s", s.name);
    CHECK(s.n_runs == 4, "%d runs", s.n_runs);
    CHECK(s.defaults.n == 4, "%d defaults", s.defaults.n);
    CHECK(s.defaults.flags[1].line == 4 && !strcmp(s.defaults.flags[1].value, "64"),
          "a continued line keeps its first line number: %d", s.defaults.flags[1].line);
    CHECK(s.defaults.flags[2].value == NULL && !strcmp(s.defaults.flags[2].key, "no-augment"), "a switch");
    CHECK(s.defaults.flags[3].line == 6 && !strcmp(s.defaults.flags[3].value, "0"), "CRLF line: '%s'",
          s.defaults.flags[3].value);
    CHECK(s.runs[0].line == 7 && !strcmp(s.runs[0].name, "a"), "run a on line %d", s.runs[0].line);
    CHECK(!strcmp(s.runs[0].flags.flags[1].value, "StepLR(step_size=2, gamma=0.5)"), "single quotes: %s",
          s.runs[0].flags.flags[1].value);
    CHECK(!strcmp(s.runs[1].flags.flags[0].value, "MultiStepLR(milestones=[1, 2], gamma=0.5)"), "double quotes");
    const sweep_flags *c = &s.runs[2].flags;
    CHECK(c->n == 4 && !strcmp(c->flags[0].value, "0.2"), "--lr=0.2");
    CHECK(c->n == 4 && !strcmp(c->flags[1].value, "my model#1"), "backslashes outside quotes: '%s'",
          c->n == 4 ? c->flags[1].value : "");
    CHECK(c->n == 4 && !strcmp(c->flags[2].value, "a \"q\" \\ b"), "escapes in double quotes: '%s'",
          c->n == 4 ? c->flags[2].value : "");
    CHECK(c->n == 4 && c->flags[3].value && !c->flags[3].value[0], "'' is an empty word");
    CHECK(!strcmp(s.runs[3].flags.flags[0].value, "a#b"), "'#' inside a word is not a comment");
    CHECK(sweep_find_run(&s, "b.2_x") == 1 && sweep_find_run(&s, "zz") == -1, "find_run");

    train_config cfg;
    sweep_flags out = {0};
    rc = sweep_resolve(&s, 0, NULL, &out, &cfg, &err);
    CHECK(rc == 0, "resolve a: %s", err.msg);
    CHECK(cfg.epochs == 3 && cfg.batch == 64 && !cfg.augment && cfg.weight_decay == 0.0 && cfg.lr == 0.1,
          "effective settings of a");
    CHECK(out.n == 6 && !strcmp(out.flags[0].key, "epochs") && !strcmp(out.flags[5].key, "sched"),
          "defaults first, then the run's flags: %d", out.n);
    sweep_flags_free(&out);
    sweep_free(&s);
}

static void test_default_name(void) {
    sweep_file s;
    lr_error err;
    const char *t = "run a\n";
    CHECK(sweep_parse(&s, t, strlen(t), "some/dir/study-1.sweep", &err) == 0 && !strcmp(s.name, "study-1"),
          "name from the file: %s", s.name);
    sweep_free(&s);
    CHECK(sweep_parse(&s, t, strlen(t), "other", &err) == 0 && !strcmp(s.name, "other"), "no extension");
    sweep_free(&s);
    CHECK(sweep_parse(&s, t, strlen(t), "dir/bad name.sweep", &err) == -1 && strstr(err.msg, "add `sweep NAME`"),
          "an unusable file name: %s", err.msg);
    sweep_free(&s);
    const char *named = "sweep good\nrun a\n";
    CHECK(sweep_parse(&s, named, strlen(named), "dir/bad name.sweep", &err) == 0 && !strcmp(s.name, "good"),
          "`sweep NAME` wins");
    sweep_free(&s);
    /* a text that is not NUL-terminated: len counts */
    const char buf[] = {'r', 'u', 'n', ' ', 'x', 'y', 'z'};
    CHECK(sweep_parse(&s, buf, 5, "t.sweep", &err) == 0 && s.n_runs == 1 && !strcmp(s.runs[0].name, "x"),
          "len bounds the text");
    sweep_free(&s);
}

static void test_errors(void) {
    check_error("", "x.sweep: no runs");
    check_error("# only a comment\n\n", "x.sweep: no runs");
    check_error("sweep s\ndefaults --lr 0.1\n", "x.sweep: no runs");
    check_error("run a\nrun b --lr 0.1\n\nrun c --foo 1\n", "x.sweep:4: unknown flag '--foo'");
    check_error("run a\n\n\n\n\n\nrun b --lr 'abc'\n", "x.sweep:7: --lr: 'abc' is not a finite number");
    check_error("run a --lr 2e6\n", "x.sweep:1: --lr: 2e+06 is out of range");
    check_error("run a --epochs 0\n", "x.sweep:1: --epochs: 0 is out of range");
    check_error("run a --backend cuda\n", "x.sweep:1: --backend 'cuda': expected one of dnnl|ref");
    check_error("run a --lr 0.1\n# c\nrun a --lr 0.2\n", "x.sweep:3: run a: the name is already used on line 1");
    check_error("run a\nfrobnicate b\n", "x.sweep:2: unknown directive 'frobnicate'");
    check_error("run a\ndefaults --lr 0.1\n", "x.sweep:2: defaults after the first run (line 1)");
    check_error("defaults\nrun a\n", "x.sweep:1: defaults: expected `defaults FLAGS...`");
    check_error("run\n", "x.sweep:1: run: expected `run NAME FLAGS...`");
    check_error("run a/b\n", "x.sweep:1: run 'a/b': a name is");
    check_error("run ..\n", "x.sweep:1: run '..': a name is");
    check_error("run -x\n", "x.sweep:1: run '-x': a name is");
    check_error("run aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "a name is");
    check_error("sweep a b\nrun x\n", "x.sweep:1: sweep: expected `sweep NAME`");
    check_error("sweep a\nsweep b\nrun x\n", "x.sweep:2: sweep: the name is already given on line 1");
    check_error("sweep 'a b'\nrun x\n", "x.sweep:1: sweep 'a b': a name is");
    check_error("run a 0.1\n", "x.sweep:1: expected a --flag of lrlab train, got '0.1'");
    check_error("run a --\n", "x.sweep:1: expected a --flag");
    check_error("run a --lr\n", "x.sweep:1: --lr: missing value");
    check_error("run a --out /tmp/x\n", "x.sweep:1: --out: a sweep puts each run in OUT/NAME");
    check_error("run a --resume d\n", "x.sweep:1: --resume is not for sweeps");
    check_error("run a\nrun b --sched 'StepLR(\n\nrun c\n", "x.sweep:2: unterminated single quote");
    check_error("run a --sched \"StepLR(step_size=1)\n", "x.sweep:1: unterminated double quote");
    check_error("run a \\", "x.sweep:1: a backslash at the end of the file");
    check_error("run a --sched 'Nope(gamma=1)'\n", "x.sweep:1: --sched: ");
    check_error("run a\nrun b --sched 'StepLR(step_size=0, gamma=0.5)'\n", "x.sweep:2: --sched: ");
    check_error("run a --sched 'CosineAnnealingLR(T_max={epoch})'\n",
                "x.sweep:1: --sched 'CosineAnnealingLR(T_max={epoch})': unknown placeholder {epoch}");
    check_error("run a --sched 'CosineAnnealingLR(T_max={epochs)'\n", "x.sweep:1: --sched 'CosineAnnealingLR(T_max={epochs)': '{' without '}'");
    check_error("run a --epochs {epochs}\n", "x.sweep:1: --epochs '{epochs}': placeholders are computed from --epochs");
    check_error("run a --limit-train 100 --batch 128\n", "x.sweep:1: run a: --batch 128 is larger than the 100 training images");
    check_error("run a --monitor val_loss\n", "x.sweep:1: run a: --monitor val_loss needs a validation set");
    check_error("run a --monitor bogus\n", "x.sweep:1: --monitor 'bogus'");
    /* the up-front check rehearses each run's schedule and checks SGD as torch.optim.SGD does */
    check_error("run a --epochs 10 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)'\n",
                "x.sweep:1: --sched: sched: the schedule cannot cover the run: the run steps it 10 times (10 epochs)");
    check_error("run a --epochs 2 --sched-unit step --sched 'OneCycleLR(max_lr=0.1, total_steps=780)'\nrun b --epochs 3 --sched-unit step --sched 'OneCycleLR(max_lr=0.1, total_steps=780)'\n",
                "x.sweep:2: --sched: sched: the schedule cannot cover the run: the run steps it 1170 times (3 epochs of 390 steps");
    check_error("run a --nesterov --momentum 0\n", "x.sweep:1: run a: --nesterov with --momentum 0 and --dampening 0: Nesterov momentum requires a momentum and zero dampening");
    char nul[] = "run a\nrun b\0 --lr 1\n";
    sweep_file s;
    lr_error err;
    CHECK(sweep_parse(&s, nul, sizeof nul - 1, "n.sweep", &err) == -1 && strstr(err.msg, "n.sweep:2: a NUL byte"),
          "NUL: %s", err.msg);
    sweep_free(&s);
    /* the defaults' errors name the defaults line, also when a run triggers the check */
    check_error("sweep s\ndefaults --lr 0.1 \\\n  --weight-decay x\nrun a\n", "x.sweep:2: --weight-decay: 'x'");
    CHECK(sweep_load(&s, "no/such/file.sweep", &err) == -1 && strstr(err.msg, "no/such/file.sweep: cannot open"),
          "missing file: %s", err.msg);
}

static void test_placeholders_and_overrides(void) {
    const char *text =
        "defaults --epochs 30\n"
        "run cos --lr 0.04 --sched 'CosineAnnealingLR(T_max={epochs})'\n"
        "run one --sched-unit step --sched 'OneCycleLR(max_lr=0.1, total_steps={total_steps})'\n"
        "run per --sched 'StepLR(step_size={steps_per_epoch}, gamma=0.5)' --sched-unit step --batch 100\n";
    sweep_file s;
    lr_error err = {{0}};
    int rc = parse(&s, text, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    sweep_flags out = {0};
    train_config cfg;
    /* no overrides: the full data set */
    CHECK(sweep_resolve(&s, 0, NULL, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.sched, "CosineAnnealingLR(T_max=30)"), "T_max=%s", cfg.sched);
    sweep_flags_free(&out);
    CHECK(sweep_resolve(&s, 1, NULL, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(flag_value(&out, "sched"), "OneCycleLR(max_lr=0.1, total_steps=11700)"), "30 x 390: %s",
          flag_value(&out, "sched"));
    sweep_flags_free(&out);
    CHECK(sweep_resolve(&s, 2, NULL, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.sched, "StepLR(step_size=500, gamma=0.5)"), "50000 / 100: %s", cfg.sched);
    sweep_flags_free(&out);

    /* a quick look from the command line */
    char *argv[] = {"--epochs", "2", "--limit-train", "512", "--lr=0.5", "--no-shuffle", "--val", "128"};
    sweep_flags extra = {0};
    CHECK(sweep_flags_from_argv(&extra, 8, argv, &err) == 0 && extra.n == 5, "argv: %s", err.msg);
    CHECK(extra.flags[0].line == 0, "command-line flags have line 0");
    CHECK(sweep_resolve(&s, 0, &extra, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.sched, "CosineAnnealingLR(T_max=2)"), "T_max follows --epochs: %s", cfg.sched);
    CHECK(cfg.lr == 0.5 && cfg.epochs == 2 && !cfg.shuffle && cfg.val == 128, "overrides win");
    CHECK(out.n == 8 && !strcmp(out.flags[out.n - 1].key, "val"), "overrides come last: %d", out.n);
    sweep_flags_free(&out);
    CHECK(sweep_resolve(&s, 1, &extra, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.sched, "OneCycleLR(max_lr=0.1, total_steps=6)"), "2 x (512-128)/128: %s", cfg.sched);
    sweep_flags_free(&out);
    CHECK(sweep_steps_per_epoch(&cfg) == 3, "steps per epoch");
    sweep_flags_free(&extra);
    /* --max-steps ends the run early: {total_steps} is it */
    char *short_run[] = {"--epochs", "2", "--limit-train", "512", "--max-steps", "5"};
    CHECK(sweep_flags_from_argv(&extra, 6, short_run, &err) == 0, "argv: %s", err.msg);
    CHECK(sweep_resolve(&s, 1, &extra, &out, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.sched, "OneCycleLR(max_lr=0.1, total_steps=5)"), "--max-steps 5 of 2 x 4: %s", cfg.sched);
    sweep_flags_free(&out);
    sweep_flags_free(&extra);

    /* command-line errors name the flag, not the file */
    char *bad[] = {"--lr", "abc"};
    CHECK(sweep_flags_from_argv(&extra, 2, bad, &err) == 0, "grouped");
    CHECK(sweep_resolve(&s, 0, &extra, NULL, NULL, &err) == -1 && !strncmp(err.msg, "--lr: 'abc'", 11),
          "command-line value: %s", err.msg);
    sweep_flags_free(&extra);
    char *bad_ph[] = {"--batch={epochs}"};
    CHECK(sweep_flags_from_argv(&extra, 1, bad_ph, &err) == 0, "grouped");
    CHECK(sweep_resolve(&s, 0, &extra, NULL, NULL, &err) == -1 && strstr(err.msg, "--batch '{epochs}'"),
          "placeholder in --batch: %s", err.msg);
    sweep_flags_free(&extra);
    char *too_big[] = {"--limit-train", "99"};
    CHECK(sweep_flags_from_argv(&extra, 2, too_big, &err) == 0, "grouped");
    CHECK(sweep_resolve(&s, 2, &extra, NULL, NULL, &err) == -1 && strstr(err.msg, "x.sweep:4: run per: --batch 100"),
          "an override that leaves no batch names the run: %s", err.msg);
    sweep_flags_free(&extra);
    char *sched_ph[] = {"--sched", "ExponentialLR(gamma={epochs})"};
    CHECK(sweep_flags_from_argv(&extra, 2, sched_ph, &err) == 0, "grouped");
    CHECK(sweep_resolve(&s, 0, &extra, NULL, &cfg, &err) == 0 && !strcmp(cfg.sched, "ExponentialLR(gamma=30)"),
          "placeholders on the command line too: %s", cfg.sched);
    sweep_flags_free(&extra);
    char *refused[][2] = {{"--out", "d"}, {"0.1", "x"}, {"--bogus", "1"}, {"--resume", "d"}};
    const char *why[] = {"--out: a sweep puts", "expected a --flag", "unknown flag '--bogus'", "--resume is not"};
    for (int i = 0; i < 4; i++) {
        CHECK(sweep_flags_from_argv(&extra, 2, refused[i], &err) == -1 && strstr(err.msg, why[i]), "%s: %s",
              refused[i][0], err.msg);
        sweep_flags_free(&extra);
    }
    char *missing[] = {"--epochs"};
    CHECK(sweep_flags_from_argv(&extra, 1, missing, &err) == -1 && strstr(err.msg, "--epochs: missing value"),
          "missing: %s", err.msg);
    sweep_flags_free(&extra);
    sweep_free(&s);
}

static void test_seed_sweep(void) {
    sweep_file s;
    lr_error err = {{0}};
    int rc = sweep_load(&s, "experiments/seed.sweep", &err);
    CHECK(rc == 0, "experiments/seed.sweep (run from the repository root): %s", err.msg);
    if (rc) return;
    CHECK(!strcmp(s.name, "seed") && s.n_runs == 12, "%s: %d runs", s.name, s.n_runs);
    const char *seven[] = {"const-lr0.01", "step-lr0.01", "multistep-lr0.02", "exp-lr0.04",
                           "warmup-step", "warmup-multistep", "warmup-exp"};
    for (int i = 0; i < 7; i++) CHECK(sweep_find_run(&s, seven[i]) == i, "%s is run %d", seven[i], i);
    train_config cfg;
    CHECK(sweep_resolve(&s, 3, NULL, NULL, &cfg, &err) == 0, "%s", err.msg);
    CHECK(cfg.lr == 0.04 && !strcmp(cfg.sched, "ExponentialLR(gamma=0.885)") && cfg.epochs == 30 &&
              cfg.batch == 128 && cfg.momentum == 0.9 && cfg.weight_decay == 5e-4,
          "exp-lr0.04 as the lead's run");
    int w = sweep_find_run(&s, "warmup-exp");
    CHECK(w >= 0 && sweep_resolve(&s, w, NULL, NULL, &cfg, &err) == 0 && cfg.lr == 0.001 &&
              !strcmp(cfg.sched, "GradualWarmupScheduler(multiplier=40, total_epoch=5, "
                                 "after_scheduler=ExponentialLR(gamma=0.885))"),
          "warmup-exp: %s", cfg.sched);
    int o = sweep_find_run(&s, "onecycle");
    char *quick[] = {"--epochs", "2", "--limit-train", "512", "--limit-test", "256"};
    sweep_flags extra = {0};
    CHECK(sweep_flags_from_argv(&extra, 6, quick, &err) == 0, "%s", err.msg);
    CHECK(o >= 0 && sweep_resolve(&s, o, &extra, NULL, &cfg, &err) == 0 && cfg.sched_unit_step &&
              !strcmp(cfg.sched, "OneCycleLR(max_lr=0.1, total_steps=8)"),
          "onecycle follows the quick look: %s", cfg.sched);
    for (int i = 0; i < s.n_runs; i++)
        CHECK(sweep_resolve(&s, i, &extra, NULL, &cfg, &err) == 0 && cfg.epochs == 2, "run %s: %s", s.runs[i].name,
              err.msg);
    sweep_flags_free(&extra);
    sweep_free(&s);
}

/* experiments/airbench94.sweep as lrlab reads it: the source's numbers
 * (legacy/airbench94.py; tests/airbench94_test.sh compares the lr schedule
 * and the derived doubles with PyTorch) in each setting they reach. With
 * --limit-train 50000 and no data files: CIFAR-10's 48 steps an epoch. */
static void test_airbench94_sweep(void) {
    sweep_file s;
    lr_error err = {{0}};
    int rc = sweep_load(&s, "experiments/airbench94.sweep", &err);
    CHECK(rc == 0, "experiments/airbench94.sweep (run from the repository root): %s", err.msg);
    if (rc) return;
    CHECK(!strcmp(s.name, "airbench94") && s.n_runs == 1, "%s: %d runs", s.name, s.n_runs);
    char *full[] = {"--data", "no/such/dir", "--limit-train", "50000"};
    sweep_flags extra = {0};
    train_config cfg;
    CHECK(sweep_flags_from_argv(&extra, 4, full, &err) == 0, "%s", err.msg);
    rc = sweep_resolve(&s, 0, &extra, NULL, &cfg, &err);
    CHECK(rc == 0, "resolve: %s", err.msg);
    sweep_flags_free(&extra);
    if (rc) {
        sweep_free(&s);
        return;
    }
    CHECK(!strcmp(cfg.model, "airbench94-net") && cfg.batch == 1024 && cfg.epochs == 10 && cfg.max_steps == 476 &&
              config_steps_per_epoch(&cfg) == 48 && config_run_steps(&cfg, 48) == 476,
          "batch %d, epochs %d, max_steps %ld, %ld steps an epoch", cfg.batch, cfg.epochs, cfg.max_steps,
          config_steps_per_epoch(&cfg));
    /* the schedule: LambdaLR per step with {total_steps} = 476 (W = floor(476 * 0.23) = 109) */
    const char *head = "LambdaLR(lr_lambda='min(0.2 * (1 - epoch / floor(476 * 0.23))";
    CHECK(cfg.sched_unit_step && !strncmp(cfg.sched, head, strlen(head)) && !strstr(cfg.sched, "{total_steps}"),
          "sched: %s", cfg.sched);
    optim_params hp;
    CHECK(config_optim(&cfg, &hp, &err) == 0, "optim: %s", err.msg);
    CHECK(hp.kind == OPTIM_SGD && hp.lr == 0.0014648437500000002 && hp.momentum == 0.85 && hp.nesterov &&
              hp.dampening == 0 && hp.weight_decay == 1.3623652173913041,
          "SGD lr %.17g momentum %g nesterov %d weight_decay %.17g", hp.lr, hp.momentum, hp.nesterov, hp.weight_decay);
    param_group g[OPTIM_MAX_GROUPS];
    int n = 0;
    CHECK(config_groups(&cfg, &hp, g, &n, &err) == 0 && n == 4, "groups: %d, %s", n, err.msg);
    if (n == 4) {
        CHECK(g[0].lr_scale == 64 && g[0].hp.lr == hp.lr * 64 && g[0].hp.weight_decay == 0.021286956521739127 &&
                  g[0].frozen == FROZEN_NO && g[0].hp.momentum == 0.85 && g[0].hp.nesterov,
              "the BatchNorm biases: lr %.17g, weight_decay %.17g", g[0].hp.lr, g[0].hp.weight_decay);
        CHECK(g[1].frozen == FROZEN_ALWAYS, "the BatchNorm weights and conv 0's weight frozen: %d", g[1].frozen);
        CHECK(g[2].frozen == FROZEN_FROM && g[2].frozen_epoch == 3 && g[2].hp.lr == hp.lr, "conv 0's bias: frozen %d from %ld",
              g[2].frozen, g[2].frozen_epoch);
        CHECK(g[3].frozen == FROZEN_NO && g[3].hp.lr == hp.lr && g[3].hp.weight_decay == hp.weight_decay,
              "the default group");
        CHECK(optim_group_selects(&g[0], "2.norm1.bias", "batchnorm", 1) &&
                  !optim_group_selects(&g[0], "2.conv1.weight", "conv", 0) &&
                  optim_group_selects(&g[1], "3.norm2.weight", "batchnorm", 0) &&
                  optim_group_selects(&g[1], "0.weight", "conv", 0) && !optim_group_selects(&g[1], "0.bias", "conv", 1) &&
                  optim_group_selects(&g[2], "0.bias", "conv", 1),
              "the selectors take the source's parameters");
    }
    CHECK(cfg.loss.label_smoothing == 0.2 && cfg.loss.sum && cfg.loss.clip_norm == 0 && cfg.loss.clip_value == 0,
          "loss: label smoothing %g, sum %d", cfg.loss.label_smoothing, cfg.loss.sum);
    lookahead *la = NULL;
    double alpha = 0;
    CHECK(lookahead_parse(&la, cfg.lookahead, 476, &err) == 0, "lookahead: %s", err.msg);
    if (la) {
        CHECK(lookahead_k(la) == 5 && lookahead_buffers(la) && lookahead_final(la), "lookahead k=5, buffers, final");
        CHECK(lookahead_alpha(la, 238, &alpha, &err) == 0 && alpha == 1 - 0.7737809374999998 * 0.125,
              "alpha at step 238 of 476: 1 - 0.95**5 / 8: %.17g", alpha);
        lookahead_free(la);
    }
    char layer[64];
    int images = 0;
    double eps = 0;
    CHECK(config_whiten_parse(cfg.whiten, "--whiten", layer, sizeof layer, &images, &eps, &err) == 0 &&
              !strcmp(layer, "0") && images == 5000 && eps == 5e-4,
          "whiten '%s'", cfg.whiten);
    CHECK(cfg.tta == 2, "tta %d", cfg.tta);
    data_transform t;
    CHECK(transform_parse(&t, cfg.transform, &err) == 0 && t.n >= 2 && t.step[0].kind == TF_ALT_FLIP &&
              t.step[1].kind == TF_CROP && t.step[1].size_h == 32 && t.step[1].pad[0] == 2 &&
              t.step[1].pad_mode == TF_PAD_REFLECT,
          "transform: %s (%s)", cfg.transform, err.msg);
    CHECK(!strcmp(cfg.normalize, "0.4914,0.4822,0.4465,0.2470,0.2435,0.2616"), "normalize %s", cfg.normalize);
    sweep_free(&s);
}

int main(void) {
    test_syntax();
    test_default_name();
    test_errors();
    test_placeholders_and_overrides();
    test_seed_sweep();
    test_airbench94_sweep();
    return test_summary("test_sweep");
}
