/* stage: a chapter's leaky and fixed servers side by side, as ./lab demo,
 * ./lab incident, ./lab trace and the dashboard show them. What those four
 * share lives here once: which folder a chapter is, one reading of both
 * servers (the kernel's thread count, CPU, resident memory), the same load at
 * both at once, and what each side's clients got, in words.
 */
#ifndef TOOLS_STAGE_STAGE_H
#define TOOLS_STAGE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "burst.h"

/* Side 0 is the leaky server, side 1 the fixed one. */
extern const char *const stage_kinds[2];

/* The folder of chapter nn (1 to 6), "05-fanout-cancel"; false if none. */
bool stage_chapter_dir(int nn, char *dir, size_t size);

/* One look at both servers. */
struct reading {
    int threads[2];  /* the kernel's count (/proc/PID/task) */
    double cpu[2];   /* CPU used since the meter's last reading, % of one CPU */
    long rss_kb[2];  /* resident memory */
};

/* What a meter remembers between readings, to turn CPU time into a rate.
 * Zero it to start; a side whose pid changed starts afresh (cpu 0). */
struct meter {
    pid_t pid[2];
    long cpu_ms[2];
    int64_t at;
};

void meter_read(struct meter *m, const pid_t pid[2], struct reading *r);

/* fn(leaky) and fn(fixed) at once, and back when both have returned. */
void stage_both(void *(*fn)(void *), void *leaky, void *fixed);

/* The same load (shape, its port ignored) at both ports at once, on two
 * threads; returns when both are over, with what each side's clients got. A
 * side whose load could not start counts every request as failed. */
void stage_load_both(const struct burst *shape, const int port[2], struct burst_result got[2]);

/* "leaky: 200 ×20, 3 hung up": what one side's clients got. */
void stage_describe(char *out, size_t size, const char *kind, const struct burst_result *r);

/* Each status either side got, with what it means in the article's story,
 * said once: " (500: process's error ...; 503: ...)", or "" if none has a
 * meaning to tell. */
void stage_meanings(char *out, size_t size, const struct burst_result got[2]);

#endif
