/* train/progress.c: the live progress line (progress.h). */
#define _DEFAULT_SOURCE
#include "train/progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int progress_columns(FILE *f) {
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *env = getenv("COLUMNS");
    int n = env ? atoi(env) : 0;
    return n > 0 ? n : 80;
}

void progress_draw(FILE *f, const char *head, long done, long total, const char *tail) {
    char line[1024];
    int cols = progress_columns(f) - 1; /* the last column would wrap on some terminals */
    if (cols > (int)sizeof line - 1) cols = (int)sizeof line - 1;
    int room = cols - (int)strlen(head) - (int)strlen(tail) - 4; /* " [" "] " */
    int bar = room > 40 ? 40 : room;
    int n;
    if (bar >= 8 && total > 0) {
        char b[48];
        int filled = (int)((long)bar * done / total);
        for (int i = 0; i < bar; i++) b[i] = i < filled ? '=' : i == filled ? '>' : ' ';
        b[bar] = '\0';
        n = snprintf(line, sizeof line, "%s [%s] %s", head, b, tail);
    } else {
        n = snprintf(line, sizeof line, "%s %s", head, tail);
    }
    if (n > cols) line[cols] = '\0';
    fprintf(f, "\r%s\033[K", line);
    fflush(f);
}

void progress_clear(FILE *f) {
    fputs("\r\033[K", f);
    fflush(f);
}

void progress_time(char *buf, size_t cap, double s) {
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t < 60) snprintf(buf, cap, "%lds", t);
    else if (t < 3600) snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}
