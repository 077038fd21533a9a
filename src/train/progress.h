/* train/progress.h: the trainer's live line on a terminal: one line,
 * redrawn in place, never wider than the terminal (so it never wraps). */
#ifndef LRLAB_TRAIN_PROGRESS_H
#define LRLAB_TRAIN_PROGRESS_H

#include <stdio.h>

/* The width of the terminal behind f: TIOCGWINSZ, else $COLUMNS, else 80. */
int progress_columns(FILE *f);

/* "\r" + `head` + a bar of done/total + `tail`, cut to the terminal's width
 * less one column; the bar takes the room left (none when there is none). */
void progress_draw(FILE *f, const char *head, long done, long total, const char *tail);

/* Erases the line (before other output takes it). */
void progress_clear(FILE *f);

/* Seconds as "42s", "3:07" or "1:02:03". */
void progress_time(char *buf, size_t cap, double seconds);

#endif
