/* svg: the timeline and the trace's lanes (svg.h). */
#define _GNU_SOURCE /* strndup, in POSIX.1-2008 too, hidden by nothing here */
#include "svg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const head =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1280\" height=\"%d\" viewBox=\"0 0 "
    "1280 %d\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"22\">\n"
    "<rect width=\"1280\" height=\"%d\" fill=\"white\"/>\n";

/* Text as SVG text: a title holds a folder's name, a lane a thread's. */
static void text(FILE *out, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
}

/* A round step (1, 2 or 5 times a power of ten) at least v. */
static double nice(double v)
{
    double p = 1;
    while (p * 10 <= v)
        p *= 10;
    double m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* ---- the timeline ---- */

/* A picture's ranges: seconds of the story across, threads up. */
struct axes {
    double tmax, ymax;
};

static double tx(const struct axes *a, double t) { return 110 + t / a->tmax * 1130; }
static double ty(const struct axes *a, double v) { return 560 - v / a->ymax * 470; }

static void polyline(FILE *out, const struct axes *a, const struct point *p, int n, int side,
                     const char *style)
{
    fprintf(out, "<polyline fill=\"none\" %s stroke-linejoin=\"round\" points=\"", style);
    for (int i = 0; i < n; i++)
        fprintf(out, "%.1f,%.1f ", tx(a, p[i].t), ty(a, p[i].threads[side]));
    fprintf(out, "\"/>\n");
}

void svg_timeline(FILE *out, const char *title, const struct point *p, int n,
                  const struct mark *marks, int nmarks)
{
    struct axes ax = { 0, 0 }, *a = &ax;
    double tmax = 0, ymax = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].t > tmax) tmax = p[i].t;
        for (int k = 0; k < 2; k++)
            if (p[i].threads[k] > ymax) ymax = p[i].threads[k];
    }
    if (tmax <= 0) tmax = 1;
    if (ymax < 10) ymax = 10;
    double ystep = nice(ymax / 5);
    ymax = (double)(long)((ymax + ystep - 1) / ystep) * ystep;
    ax = (struct axes){ tmax, ymax };
    fprintf(out, head, 660, 660, 660);
    fprintf(out, "<text x=\"640\" y=\"40\" text-anchor=\"middle\" font-size=\"28\" "
                 "font-weight=\"bold\">");
    text(out, title);
    fprintf(out, "</text>\n");
    for (double v = 0; v <= ymax; v += ystep) {
        fprintf(out, "<line x1=\"110\" x2=\"1240\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                ty(a, v), ty(a, v));
        fprintf(out, "<text x=\"100\" y=\"%.1f\" text-anchor=\"end\">%ld</text>\n", ty(a, v) + 8,
                (long)v);
    }
    double step = nice(tmax / 10);
    for (double v = 0; v <= tmax + 1e-9; v += step)
        fprintf(out, "<text x=\"%.1f\" y=\"592\" text-anchor=\"middle\">%g</text>\n", tx(a, v), v);
    fprintf(out, "<line x1=\"110\" x2=\"1240\" y1=\"560\" y2=\"560\" stroke=\"#333\" "
                 "stroke-width=\"2\"/>\n"
                 "<text x=\"675\" y=\"640\" text-anchor=\"middle\">seconds of the story</text>\n"
                 "<text x=\"30\" y=\"325\" text-anchor=\"middle\" transform=\"rotate(-90 30 "
                 "325)\">threads (kernel count)</text>\n");
    for (int i = 0; i < nmarks; i++) {
        if (marks[i].t > tmax)
            continue;
        double x = tx(a, marks[i].t);
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"80\" y2=\"560\" stroke=\"#444\" "
                     "stroke-width=\"2\" stroke-dasharray=\"4 6\"/>\n", x, x);
        fprintf(out, "<text x=\"%.1f\" y=\"76\" font-size=\"20\">", x + 6);
        text(out, marks[i].label);
        fprintf(out, "</text>\n");
    }
    polyline(out, a, p, n, 0, "stroke=\"#c62828\" stroke-width=\"7\"");
    polyline(out, a, p, n, 1, "stroke=\"#1b7f3b\" stroke-width=\"4\" stroke-dasharray=\"16 8\"");
    fprintf(out,
            "<rect x=\"1030\" y=\"96\" width=\"200\" height=\"86\" fill=\"white\" "
            "stroke=\"#bbb\"/>\n"
            "<line x1=\"1045\" x2=\"1105\" y1=\"124\" y2=\"124\" stroke=\"#c62828\" "
            "stroke-width=\"7\"/><text x=\"1118\" y=\"132\">leaky</text>\n"
            "<line x1=\"1045\" x2=\"1105\" y1=\"160\" y2=\"160\" stroke=\"#1b7f3b\" "
            "stroke-width=\"4\" stroke-dasharray=\"16 8\"/><text x=\"1118\" "
            "y=\"168\">fixed</text>\n</svg>\n");
}

/* ---- the trace ---- */

struct block {
    double start, end; /* end < 0: still blocked when the recording ended */
    char state[32], at[96];
};

struct thread {
    long tid;
    double first, last; /* last < 0: no exit seen */
    char name[32];
    struct block *blocks;
    int nblocks;
    char outcome[160]; /* "" if it exits, else where it still is */
    int lane;
};

struct side {
    char process[32];
    double span; /* seconds of the story recorded */
    struct thread *threads;
    int n;
};

/* The value of "name" in one event's line, string or number, into out;
 * false if the line has none. */
static bool field(const char *line, const char *name, char *out, size_t size)
{
    char key[40];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = strstr(line, key);
    if (!at)
        return false;
    at += strlen(key);
    size_t len;
    if (*at == '"') {
        at++;
        len = strcspn(at, "\"");
    } else {
        len = strspn(at, "-0123456789.e+");
    }
    if (len >= size)
        len = size - 1;
    memcpy(out, at, len);
    out[len] = '\0';
    return true;
}

static double number(const char *line, const char *name)
{
    char v[32];
    return field(line, name, v, sizeof v) ? strtod(v, NULL) : 0;
}

static struct thread *thread_of(struct side *s, long tid, double t)
{
    for (int i = 0; i < s->n; i++)
        if (s->threads[i].tid == tid)
            return &s->threads[i];
    struct thread *more = realloc(s->threads, (size_t)(s->n + 1) * sizeof *more);
    if (!more)
        return NULL;
    s->threads = more;
    struct thread *th = &s->threads[s->n++];
    *th = (struct thread){ .tid = tid, .first = t, .last = -1 };
    return th;
}

static void event(struct side *s, const char *line)
{
    char ph[4], name[32] = "";
    if (!field(line, "ph", ph, sizeof ph) || !ph[0] || ph[1] || !strchr("BEi", ph[0]))
        return;
    double t = number(line, "ts") / 1e6;
    struct thread *th = thread_of(s, (long)number(line, "tid"), t);
    if (!th)
        return;
    field(line, "name", name, sizeof name);
    if (ph[0] == 'i' && strcmp(name, "exit") == 0) {
        th->last = t;
    } else if (ph[0] == 'i') {
        field(line, "thread", th->name, sizeof th->name);
        if (strcmp(name, "alive at start") == 0)
            th->first = 0;
    } else if (ph[0] == 'B') {
        struct block *more = realloc(th->blocks, (size_t)(th->nblocks + 1) * sizeof *more);
        if (!more)
            return;
        th->blocks = more;
        struct block *b = &th->blocks[th->nblocks++];
        *b = (struct block){ .start = t, .end = -1 };
        snprintf(b->state, sizeof b->state, "%s", name);
        field(line, "at", b->at, sizeof b->at);
    } else if (th->nblocks > 0) {
        th->blocks[th->nblocks - 1].end = t;
    }
}

static int read_side(struct side *s, const char *json)
{
    *s = (struct side){ 0 };
    if (strncmp(json, "{\"displayTimeUnit\"", 18) != 0)
        return -1;
    double scale = number(json, "time_scale");
    if (scale <= 0)
        return -1;
    s->span = number(json, "seconds") / scale;
    field(json, "process", s->process, sizeof s->process);
    for (const char *line = json; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        const char *end = strchr(line, '\n');
        char *one = end ? strndup(line, (size_t)(end - line)) : strdup(line);
        if (!one)
            return -1;
        event(s, one);
        free(one);
    }
    for (int i = 0; i < s->n; i++) {
        struct thread *th = &s->threads[i];
        struct block *b = th->nblocks ? &th->blocks[th->nblocks - 1] : NULL;
        if (th->last >= 0)
            th->outcome[0] = '\0';
        else if (b && b->end < 0)
            snprintf(th->outcome, sizeof th->outcome, "still %s at %s", b->state, b->at);
        else
            snprintf(th->outcome, sizeof th->outcome, "still running");
    }
    return 0;
}

static void free_side(struct side *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->threads[i].blocks);
    free(s->threads);
}

static const char *color(const char *state)
{
    static const char *const colors[][2] = { { "sleep", "#9e9e9e" }, { "chan_send", "#c62828" },
                                             { "chan_recv", "#ef6c00" }, { "select", "#1565c0" },
                                             { "io", "#6a1b9a" } };
    for (size_t i = 0; i < sizeof colors / sizeof colors[0]; i++)
        if (strcmp(state, colors[i][0]) == 0)
            return colors[i][1];
    return "#00838f";
}

static double lane_x(const struct axes *a, double t) { return 250 + t / a->tmax * 990; }

/* Lanes: one per name and outcome, in order of name then outcome (a
 * thread's lane number in th->lane); returns how many. */
static int lanes(struct side *s, struct thread **rep)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        struct thread *th = &s->threads[i];
        th->lane = -1;
        for (int l = 0; l < n && th->lane < 0; l++)
            if (!strcmp(rep[l]->name, th->name) && !strcmp(rep[l]->outcome, th->outcome))
                th->lane = l;
        if (th->lane < 0)
            rep[th->lane = n++] = th;
    }
    /* Sorted by name, then outcome (a stable insertion sort: few lanes). */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int c = strcmp(rep[j - 1]->name, rep[j]->name);
            if (c < 0 || (c == 0 && strcmp(rep[j - 1]->outcome, rep[j]->outcome) <= 0))
                break;
            struct thread *t = rep[j];
            rep[j] = rep[j - 1];
            rep[j - 1] = t;
        }
    for (int l = 0; l < n; l++)
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->threads[i].name, rep[l]->name) &&
                !strcmp(s->threads[i].outcome, rep[l]->outcome))
                s->threads[i].lane = l;
    return n;
}

static void draw_thread(FILE *out, const struct axes *a, const struct thread *th, double span,
                        int y)
{
    double end = th->last >= 0 ? th->last : span;
    fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#444\" "
                 "stroke-width=\"2\"/>\n", lane_x(a, th->first), lane_x(a, end), y + 12, y + 12);
    for (int b = 0; b < th->nblocks; b++) {
        const struct block *bl = &th->blocks[b];
        double w = lane_x(a, bl->end >= 0 ? bl->end : end) - lane_x(a, bl->start);
        fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\">"
                     "<title>%s at ", lane_x(a, bl->start), y + 5, w < 2 ? 2 : w,
                color(bl->state), bl->state);
        text(out, bl->at);
        fprintf(out, "</title></rect>\n");
    }
    if (th->last >= 0)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#000\" "
                     "stroke-width=\"3\"/>\n", lane_x(a, end), lane_x(a, end), y + 2, y + 22);
}

static int draw_side(FILE *out, const struct axes *a, struct side *s, int sd, struct thread **rep,
                     int nl, int y)
{
    fprintf(out, "<text x=\"20\" y=\"%d\" font-size=\"24\" font-weight=\"bold\" fill=\"%s\">",
            y + 22, sd == 0 ? "#c62828" : "#1b7f3b");
    text(out, s->process);
    fprintf(out, "</text>\n");
    y += 40;
    for (int l = 0; l < nl; l++) {
        int members = 0;
        for (int i = 0; i < s->n; i++)
            members += s->threads[i].lane == l;
        fprintf(out, "<text x=\"20\" y=\"%d\">", y + 20);
        text(out, rep[l]->name[0] ? rep[l]->name : "thread");
        if (members > 1)
            fprintf(out, " ×%d", members);
        fprintf(out, "</text>\n");
        for (int i = 0; i < s->n; i++)
            if (s->threads[i].lane == l)
                draw_thread(out, a, &s->threads[i], s->span, y);
        if (rep[l]->outcome[0]) {
            fprintf(out, "<text x=\"1240\" y=\"%d\" text-anchor=\"end\" font-size=\"19\" "
                         "fill=\"#b71c1c\">", y + 40);
            text(out, rep[l]->outcome);
            fprintf(out, "</text>\n");
        }
        y += 46;
    }
    return y + 10;
}

int svg_trace(FILE *out, const char *title, const char *const json[2])
{
    struct side s[2] = { { .n = 0 }, { .n = 0 } };
    struct thread **rep[2] = { NULL, NULL };
    int nl[2] = { 0, 0 }, ok = -1;
    if (read_side(&s[0], json[0]) != 0 || read_side(&s[1], json[1]) != 0)
        goto out;
    struct axes ax = { s[0].span > s[1].span ? s[0].span : s[1].span, 0 }, *a = &ax;
    if (ax.tmax <= 0)
        ax.tmax = 1;
    int h = 100;
    for (int k = 0; k < 2; k++) {
        if (!(rep[k] = calloc((size_t)s[k].n + 1, sizeof *rep[k])))
            goto out;
        nl[k] = lanes(&s[k], rep[k]);
        h += 50 + nl[k] * 46;
    }
    fprintf(out, head, h + 90, h + 90, h + 90);
    fprintf(out, "<text x=\"640\" y=\"36\" text-anchor=\"middle\" font-size=\"26\" "
                 "font-weight=\"bold\">");
    text(out, title);
    fprintf(out, "</text>\n");
    double step = 1;
    while (ax.tmax / step > 12)
        step *= 2;
    for (double t = 0; t <= ax.tmax + 1e-9; t += step)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"60\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n",
                lane_x(a, t), lane_x(a, t), h);
    int y = 70;
    for (int k = 0; k < 2; k++)
        y = draw_side(out, a, &s[k], k, rep[k], nl[k], y);
    for (double t = 0; t <= ax.tmax + 1e-9; t += step)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", lane_x(a, t),
                y + 24, t);
    fprintf(out, "<text x=\"745\" y=\"%d\" text-anchor=\"middle\">seconds of the story; a bar "
                 "is a block, a tick the thread's exit</text>\n", y + 52);
    static const char *const states[] = { "sleep", "chan_send", "chan_recv", "select", "io" };
    for (int i = 0, lx = 250; i < 5; i++, lx += 190)
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"18\" fill=\"%s\"/><text "
                     "x=\"%d\" y=\"%d\">%s</text>\n", lx, y + 67, color(states[i]), lx + 38,
                y + 82, states[i]);
    fprintf(out, "</svg>\n");
    ok = 0;
out:
    for (int k = 0; k < 2; k++) {
        free(rep[k]);
        free_side(&s[k]);
    }
    return ok;
}
