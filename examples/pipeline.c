/* The Go blog's pipeline ("Go Concurrency Patterns: Pipelines and
 * cancellation", its last version) in C: gen emits numbers, two sq stages
 * square them, merge fans their outputs in, and main takes the first value
 * and cancels the rest. Every stage's thread has a way out: ctx's Done.
 * Each stage is one go_closure: the thread holds its own references to the
 * context and channels it captured, and frees what it owns when it ends.
 *
 *   pipeline [ROUNDS]         runs it ROUNDS times (100), then checks that
 *                             no thread is left
 *   pipeline race [ROUNDS]    with a race planted in sq: two stages count
 *                             their squares in one int, unlocked
 *                             (-fsanitize=thread reports it)
 *   pipeline borrowed         gen borrows its numbers and main frees them
 *                             too early (-fsanitize=address reports it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <threadleaks/leakcheck.h>
#include <threadleaks/short.h>

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "pipeline: %s failed\n", what);
        exit(1);
    }
}

/* Sends *val on out unless ctx is done first; false once it is. */
static bool send_or_done(ctx_t *ctx, chan_t *out, const int *val)
{
    struct chan_case cases[] = { chan_send_case(out, val), chan_recv_case(ctx_done(ctx), NULL) };
    return chan_select(cases, 2, -1) == 0;
}

/* gen's ...int: how many, then the numbers. */
struct nums {
    int n;
    int v[];
};

static struct nums *nums_of(int n, const int *v)
{
    struct nums *nums = malloc(sizeof *nums + (size_t)n * sizeof nums->v[0]);
    must(nums != NULL, "malloc");
    nums->n = n;
    memcpy(nums->v, v, (size_t)n * sizeof nums->v[0]);
    return nums;
}

/* func gen(ctx, nums ...int) <-chan int */
static void gen_stage(const struct tl_closure *c)
{
    const struct nums *nums = c->arg;
    for (int i = 0; i < nums->n; i++)
        if (!send_or_done(c->ctx, c->out, &nums->v[i]))
            break;
    chan_close(c->out);
}

static chan_t *gen(ctx_t *ctx, struct nums *nums, bool borrowed)
{
    chan_t *out = chan_make(sizeof(int), 0);
    must(out != NULL, "chan_make");
    if (borrowed) { /* the planted bug: the caller's numbers, not the thread's own */
        must(go_closure("gen", gen_stage, .ctx = ctx, .out = out, .arg = nums) == 0,
             "go_closure");
        return out;
    }
    struct nums *own = nums_of(nums->n, nums->v);
    must(go_closure("gen", gen_stage, .ctx = ctx, .out = out, .arg = own, .free_arg = free) == 0,
         "go_closure");
    return out;
}

static bool plant_race;
static int squared; /* written by both sq stages when the race is planted */

/* func sq(ctx, in <-chan int) <-chan int */
static void sq_stage(const struct tl_closure *c)
{
    int n;
    while (chan_recv(c->in, &n)) {
        int square = n * n;
        if (plant_race)
            squared++;
        if (!send_or_done(c->ctx, c->out, &square))
            break;
    }
    chan_close(c->out);
}

static chan_t *sq(ctx_t *ctx, chan_t *in)
{
    chan_t *out = chan_make(sizeof(int), 0);
    must(out != NULL, "chan_make");
    must(go_closure("sq", sq_stage, .ctx = ctx, .in = in, .out = out) == 0, "go_closure");
    return out;
}

/* merge's output func: copies c->in to c->out, then wg.Done(). */
static void output(const struct tl_closure *c)
{
    int n;
    while (chan_recv(c->in, &n))
        if (!send_or_done(c->ctx, c->out, &n))
            break;
    wg_done(c->arg);
}

/* go func() { wg.Wait(); close(out) }() */
static void close_when_done(const struct tl_closure *c)
{
    wg_wait(c->arg);
    chan_close(c->out);
}

static void free_wg(void *wg)
{
    wg_destroy(wg);
    free(wg);
}

/* func merge(ctx, cs ...<-chan int) <-chan int */
static chan_t *merge(ctx_t *ctx, chan_t **cs, int n)
{
    wg_t *wg = malloc(sizeof *wg);
    must(wg != NULL && wg_init(wg) == 0, "wg_init");
    chan_t *out = chan_make(sizeof(int), 0);
    must(out != NULL, "chan_make");
    wg_add(wg, n);
    for (int i = 0; i < n; i++)
        must(go_closure("output", output, .ctx = ctx, .in = cs[i], .out = out, .arg = wg) == 0,
             "go_closure");
    must(go_closure("closer", close_when_done, .out = out, .arg = wg, .free_arg = free_wg) == 0,
         "go_closure");
    return out;
}

/* One run of the blog's main: the first value, then cancel. */
static int first_square(bool borrowed)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    must(ctx != NULL, "ctx_with_cancel");
    struct nums *nums = nums_of(2, (int[]){ 2, 3 });
    chan_t *in = gen(ctx, nums, borrowed);
    free(nums); /* gen's thread has its own copy, unless it borrowed ours */

    /* Distribute the sq work across two threads that both read from in. */
    chan_t *c1 = sq(ctx, in);
    chan_t *c2 = sq(ctx, in);

    /* Consume the first value from the output. */
    chan_t *out = merge(ctx, (chan_t *[]){ c1, c2 }, 2);
    int first = 0;
    must(chan_recv(out, &first), "chan_recv");

    ctx_cancel(ctx); /* defer cancel(): every stage left takes its way out */
    chan_release(out);
    chan_release(c2);
    chan_release(c1);
    chan_release(in);
    ctx_release(ctx);
    return first;
}

int main(int argc, char **argv)
{
    int arg = 1;
    const char *mode = argc > 1 && (strcmp(argv[1], "race") == 0 ||
                                    strcmp(argv[1], "borrowed") == 0) ? argv[arg++] : "";
    int rounds = 100;
    if (arg < argc) {
        char *end;
        long n = strtol(argv[arg++], &end, 10);
        rounds = *end == '\0' && n > 0 && n <= 100000 ? (int)n : 0;
    }
    if (arg < argc || rounds == 0) {
        fprintf(stderr, "usage: pipeline [race] [ROUNDS (1 to 100000)] | pipeline borrowed\n");
        return 2;
    }
    plant_race = strcmp(mode, "race") == 0;
    bool borrowed = strcmp(mode, "borrowed") == 0;

    leakcheck_t *check = leakcheck_begin();
    must(check != NULL, "leakcheck_begin");
    int first = 0;
    for (int i = 0; i < rounds; i++) {
        first = first_square(borrowed);
        must(first == 4 || first == 9, "the first square");
    }
    int leaked = leakcheck_end(check, stderr);
    printf("pipeline: %d rounds, the last one's first square %d, %d threads left\n", rounds, first,
           leaked);
    return leaked == 0 ? 0 : 1;
}
