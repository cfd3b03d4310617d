/* What bench.c and floor.c share: the table's rows and the floor section. */
#ifndef TESTS_BENCH_FLOOR_H
#define TESTS_BENCH_FLOOR_H

#include <stdint.h>
#include <stdio.h>

enum place { ONE_CPU, TWO_CPUS, UNPINNED };

struct spread {
    double median, min, max;
};

FILE *bench_csv(void);
struct spread bench_spread(double *v, int n);
void bench_row(const char *section, const char *name, double value, const char *unit);
void bench_row_spread(const char *section, const char *name, struct spread s, const char *unit);

/* Ping-pong and wake-all, raw and the project's, with ratios. */
void bench_floor(void);

/* Nanoseconds per select over k (at most 8) channels of 64 slots that
 * another thread feeds in turn, total selects. */
double bench_select_cost(int k, int total);

/* Buffered 1 -> 1 and 4 -> 4 beside a lock-free ring, and select over 2. */
void bench_buffered(void);

#endif
