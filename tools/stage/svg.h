/* svg: the two pictures the workshop draws, sized for a projector (1280
 * wide, text 20 px and up) and opened by any browser without a network.
 *
 * svg_timeline: both servers' thread counts over the story, leaky wide and
 * solid, fixed narrower and dashed on top (where they overlap both show).
 * svg_trace: each thread's life in two /debug/trace recordings, threads of
 * one name that end the same way sharing a lane ("sender ×10").
 */
#ifndef TOOLS_STAGE_SVG_H
#define TOOLS_STAGE_SVG_H

#include <stdio.h>

struct point {
    double t;       /* seconds of the story */
    int threads[2]; /* leaky, fixed */
};

/* A dashed line at t, labelled. */
struct mark {
    double t;
    const char *label;
};

void svg_timeline(FILE *out, const char *title, const struct point *p, int n,
                  const struct mark *marks, int nmarks);

/* json[0], json[1]: the leaky and the fixed server's /debug/trace answers,
 * one event a line, as common/trace.c writes them. Returns 0, or -1 if
 * either is not such a recording (nothing is written then). */
int svg_trace(FILE *out, const char *title, const char *const json[2]);

#endif
