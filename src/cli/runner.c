/* cli/runner.c: child `lrlab train` processes for sweep and tune
 * (cli/runner.h): fork + exec of this executable, no shell; the console
 * output appended to the run's log. */
#define _DEFAULT_SOURCE
#include "cli/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "lrlab/config.h"
#include "lrlab/dist.h"

char **runner_flag_words(const sweep_flags *f, int *count) {
    char **w = calloc((size_t)f->n * 2 + 1, sizeof *w);
    *count = 0;
    if (!w) return NULL;
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const sweep_flag *x = &f->flags[i];
        size_t len = strlen(x->key) + 3 + (x->value ? strlen(x->value) + 1 : 0);
        int sw = config_is_switch(x->key);
        char *s = malloc(len);
        if (!s) return runner_words_free(w, n), NULL;
        if (sw && x->value) snprintf(s, len, "--%s=%s", x->key, x->value);
        else snprintf(s, len, "--%s", x->key);
        w[n++] = s;
        if (!sw && x->value && !(w[n++] = strdup(x->value))) return runner_words_free(w, n), NULL;
    }
    *count = n;
    return w;
}

void runner_words_free(char **w, int n) {
    for (int i = 0; w && i < n; i++) free(w[i]);
    free(w);
}

/* A word as a shell would need it. */
static void print_word(FILE *f, const char *w) {
    int safe = *w != '\0';
    for (const char *p = w; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *p)) safe = 0;
    if (safe) { fputs(w, f); return; }
    fputc('\'', f);
    for (const char *p = w; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

void runner_print_command(FILE *f, char *const *av) {
    fputs("lrlab", f);
    for (int i = 1; av[i]; i++) fputc(' ', f), print_word(f, av[i]);
}

int runner_spawn(const char *who, char *const *av, const char *log, pid_t *pid_out, lr_error *err) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return lr_fail(err, "cannot open %s: %s", log, strerror(errno));
    FILE *lf = fdopen(dup(fd), "w");
    if (lf) {
        time_t t = time(NULL);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
        fprintf(lf, "# lrlab %s, %s: ", who, when);
        runner_print_command(lf, av);
        fputc('\n', lf);
        fclose(lf);
    }
    fflush(stdout), fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: its own process group, so that a terminal's Ctrl-C reaches
         * only the parent, which passes it on once; stopped if the parent dies */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(130);
        dist_launch_forget(); /* a run of a sweep (or a trial) under mpirun is a single process */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(av[0], av);
        fprintf(stderr, "lrlab %s: cannot run %s: %s\n", who, av[0], strerror(errno));
        _exit(127);
    }
    int fork_errno = errno;
    close(fd);
    if (pid < 0) return lr_fail(err, "cannot start a process: %s", strerror(fork_errno));
    setpgid(pid, pid);
    *pid_out = pid;
    return 0;
}

void runner_last_line(const char *path, char *out, size_t cap) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *p = strrchr(line, '\r'); /* a progress bar's last frame */
        p = p ? p + 1 : line;
        size_t k = strlen(p);
        if (k >= cap) k = cap - 1; /* a long line: its start is enough */
        if (k) memcpy(out, p, k), out[k] = '\0';
    }
    fclose(f);
}
