/* room: the room board (room.h). */
#include "room.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "json.h"

enum {
    NAME_CHARS = 40,     /* a learner's name, in characters */
    FINDING_CHARS = 300, /* the check's first finding, cut by the learner's side */
    MAX_CASES = 8,
    RATE_ADDRESSES = 256,
    RATE_BURST = 5,      /* posts an address may make at once, */
    RATE_PER_SECOND = 2, /* and then this many a second */
};

struct verdict {
    char name[4 * NAME_CHARS + 1]; /* UTF-8 */
    int chapter;
    bool pass, judged; /* judged: a verdict: line came */
    int ncases;
    struct {
        char name[48];
        bool ok;
    } cases[MAX_CASES];
    char finding[4 * FINDING_CHARS + 1];
    long long at; /* when it came, in seconds since the epoch */
};

static struct {
    char code[33];
    int max_learners;
    const char *file;
    struct verdict *v;
    int n, cap;
    struct {
        char addr[64];
        double tokens;
        int64_t at;
    } rate[RATE_ADDRESSES];
} room;

/* ---- reading a post ---- */

/* The number of characters in s, or -1 if it is not UTF-8 or holds a
 * character that would hide or disguise text on the page: a control (C0 or
 * C1), or a bidirectional override or isolate. */
static int characters(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        unsigned c = *p;
        int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (more < 0 || (more == 1 && c < 0xc2))
            return -1;
        unsigned code = more ? c & (0x3f >> more) : c;
        for (int i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            code = code << 6 | (p[i] & 0x3f);
        }
        if ((more == 2 && code < 0x800) || (more == 3 && (code < 0x10000 || code > 0x10ffff)) ||
            (code >= 0xd800 && code <= 0xdfff))
            return -1; /* overlong, or no character */
        if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e) ||
            (code >= 0x2066 && code <= 0x2069))
            return -1;
        p += 1 + more;
    }
    return n;
}

static bool is_case_name(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof room.v->cases[0].name)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* One "key: value" line into v; NULL, or why the line is refused. */
static const char *read_line(struct verdict *v, char *line, bool stored)
{
    char *colon = strchr(line, ':');
    if (!colon || colon[1] != ' ')
        return "every line is 'key: value'";
    *colon = '\0';
    const char *key = line, *value = colon + 2;
    int chars = characters(value);
    if (chars < 0)
        return "a value is not UTF-8 text, or holds a control character";
    if (!strcmp(key, "name")) {
        if (chars < 1 || chars > NAME_CHARS || strlen(value) >= sizeof v->name ||
            strspn(value, " ") == strlen(value))
            return "name: 1 to 40 characters, not only spaces";
        strcpy(v->name, value);
    } else if (!strcmp(key, "chapter")) {
        if (strlen(value) != 2 || value[0] != '0' || value[1] < '1' || value[1] > '6')
            return "chapter: 01 to 06";
        v->chapter = value[1] - '0';
    } else if (!strcmp(key, "verdict")) {
        if (strcmp(value, "pass") && strcmp(value, "fail"))
            return "verdict: pass or fail";
        v->pass = !strcmp(value, "pass");
        v->judged = true;
    } else if (!strcmp(key, "case")) {
        const char *space = strchr(value, ' ');
        if (!space || !is_case_name(value, (size_t)(space - value)) ||
            (strcmp(space + 1, "ok") && strcmp(space + 1, "fail")))
            return "case: a test's name, then ok or fail";
        if (v->ncases == MAX_CASES)
            return "at most 8 case: lines";
        snprintf(v->cases[v->ncases].name, sizeof v->cases[0].name, "%.*s",
                 (int)(space - value), value);
        v->cases[v->ncases++].ok = !strcmp(space + 1, "ok");
    } else if (!strcmp(key, "finding")) {
        if (chars > FINDING_CHARS || strlen(value) >= sizeof v->finding)
            return "finding: at most 300 characters";
        strcpy(v->finding, value);
    } else if (stored && !strcmp(key, "at")) {
        v->at = atoll(value);
    } else {
        return "unknown key: name, chapter, verdict, case and finding are known";
    }
    return NULL;
}

/* A whole post (text, NUL-terminated, changed in place) into v; NULL, or
 * why it is refused. */
static const char *read_post(struct verdict *v, char *text, bool stored)
{
    memset(v, 0, sizeof *v);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!len)
            continue;
        const char *why = read_line(v, line, stored);
        if (why)
            return why;
    }
    if (!v->name[0] || !v->chapter || !v->judged)
        return "name:, chapter: and verdict: are needed";
    return NULL;
}

/* ---- keeping it ---- */

/* Writes the board to its file (a new file, then renamed over the old: a
 * restart reads the one or the other whole). Returns 0, or -1 with the
 * reason on stderr. */
static int save(void)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.new", room.file);
    FILE *out = fopen(tmp, "w");
    for (int i = 0; out && i < room.n; i++) {
        const struct verdict *v = &room.v[i];
        fprintf(out, "name: %s\nchapter: %02d\nverdict: %s\nat: %lld\n", v->name, v->chapter,
                v->pass ? "pass" : "fail", v->at);
        for (int c = 0; c < v->ncases; c++)
            fprintf(out, "case: %s %s\n", v->cases[c].name, v->cases[c].ok ? "ok" : "fail");
        if (v->finding[0])
            fprintf(out, "finding: %s\n", v->finding);
        fputc('\n', out);
    }
    bool written = out && !ferror(out);
    if (out && fclose(out) != 0)
        written = false;
    if (!written || rename(tmp, room.file) != 0) {
        fprintf(stderr, "dashboard: room: cannot write %s: %s\n", room.file, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int learners(void)
{
    int n = 0;
    for (int i = 0; i < room.n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(room.v[j].name, room.v[i].name);
        n += !seen;
    }
    return n;
}

/* Keeps v, replacing its learner's last verdict on the same chapter.
 * Returns 0, or -1 if v's learner would be one too many. */
static int keep(const struct verdict *v)
{
    bool known = false;
    for (int i = 0; i < room.n; i++) {
        if (strcmp(room.v[i].name, v->name))
            continue;
        known = true;
        if (room.v[i].chapter == v->chapter) {
            room.v[i] = *v;
            return 0;
        }
    }
    if (!known && learners() >= room.max_learners)
        return -1;
    if (room.n == room.cap) {
        int cap = room.cap ? 2 * room.cap : 64;
        struct verdict *more = realloc(room.v, (size_t)cap * sizeof *more);
        if (!more)
            return -1;
        room.v = more;
        room.cap = cap;
    }
    room.v[room.n++] = *v;
    return 0;
}

/* Reads the board's file back; a record it cannot read is skipped and
 * said, with its line, so that one bad record costs the board nothing else. */
static int load(void)
{
    FILE *in = fopen(room.file, "r");
    if (!in)
        return errno == ENOENT ? 0 : -1;
    char block[2 * ROOM_MAX_BODY], line[ROOM_MAX_BODY];
    size_t len = 0;
    int at = 0, first = 1;
    for (bool more = true; more;) {
        more = fgets(line, sizeof line, in) != NULL;
        at += more;
        bool blank = more && (!strcmp(line, "\n") || !strcmp(line, "\r\n"));
        if (more && !blank && len + strlen(line) < sizeof block) {
            if (!len)
                first = at;
            strcpy(block + len, line);
            len += strlen(line);
            continue;
        }
        if (len) {
            struct verdict v;
            const char *why = read_post(&v, block, true);
            if (why)
                fprintf(stderr, "dashboard: room: %s:%d: skipped: %s\n", room.file, first, why);
            else if (keep(&v) != 0)
                fprintf(stderr, "dashboard: room: %s:%d: skipped: more learners than --room-max\n",
                        room.file, first);
        }
        len = 0;
    }
    fclose(in);
    return 0;
}

int room_open(const char *code, int max_learners, const char *file)
{
    snprintf(room.code, sizeof room.code, "%s", code);
    room.max_learners = max_learners;
    room.file = file;
    if (load() != 0) {
        fprintf(stderr, "dashboard: room: cannot read %s: %s\n", file, strerror(errno));
        return -1;
    }
    return save(); /* a file that cannot be written is said now, not at the first post */
}

/* ---- the post ---- */

static void answer(struct evhttp_request *req, int status, const char *text)
{
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add_printf(body, "%s\n", text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Refused", body);
    if (body)
        evbuffer_free(body);
}

/* A token bucket per address: RATE_BURST at once, then RATE_PER_SECOND. */
static bool allowed(const char *addr)
{
    int64_t now = now_ms();
    int slot = 0;
    for (int i = 0; i < RATE_ADDRESSES; i++) {
        if (!strcmp(room.rate[i].addr, addr)) {
            slot = i;
            break;
        }
        if (room.rate[i].at < room.rate[slot].at) /* the longest idle, if new */
            slot = i;
    }
    if (strcmp(room.rate[slot].addr, addr)) {
        snprintf(room.rate[slot].addr, sizeof room.rate[slot].addr, "%s", addr);
        room.rate[slot].tokens = RATE_BURST;
        room.rate[slot].at = now;
    }
    double t = room.rate[slot].tokens + (double)(now - room.rate[slot].at) * RATE_PER_SECOND / 1000;
    room.rate[slot].tokens = t > RATE_BURST ? RATE_BURST : t;
    room.rate[slot].at = now;
    if (room.rate[slot].tokens < 1)
        return false;
    room.rate[slot].tokens -= 1;
    return true;
}

void room_on_post(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    char *peer = NULL;
    ev_uint16_t port;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
    if (!path || strncmp(path, "/api/verdict/", 13)) {
        answer(req, 404, "the room board takes POST /api/verdict/CODE: ./lab check NN --room URL");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        answer(req, 405, "POST only");
        return;
    }
    if (!allowed(peer ? peer : "")) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        answer(req, 429, "too many posts from this address: wait a second");
        return;
    }
    if (strcmp(path + 13, room.code)) {
        answer(req, 403, "wrong join code: ask the trainer for the room's URL");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > ROOM_MAX_BODY) { /* evhttp's own cap (4 times this) answers past that */
        answer(req, 413, "a post is at most 4096 bytes");
        return;
    }
    char text[ROOM_MAX_BODY + 1];
    evbuffer_copyout(in, text, len);
    text[len] = '\0';
    if (strlen(text) != len) {
        answer(req, 400, "a post is text: it holds a NUL byte");
        return;
    }
    struct verdict v;
    const char *why = read_post(&v, text, false);
    if (why) {
        answer(req, 400, why);
        return;
    }
    v.at = (long long)time(NULL);
    if (keep(&v) != 0) {
        char full[96];
        snprintf(full, sizeof full, "the room is full: %d learners", room.max_learners);
        answer(req, 403, full);
        return;
    }
    if (save() != 0) {
        answer(req, 500, "on the board, but the board could not write its file");
        return;
    }
    answer(req, 200, "on the board");
}

/* ---- the page's state ---- */

void room_write_state(FILE *out)
{
    fprintf(out, "{\"max\":%d,\"now\":%lld,\"learners\":[", room.max_learners,
            (long long)time(NULL));
    for (int i = 0; i < room.n; i++) {
        const struct verdict *v = &room.v[i];
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_write_string(out, v->name);
        fprintf(out, ",\"chapter\":\"%02d\",\"pass\":%s,\"at\":%lld,\"cases\":[", v->chapter,
                v->pass ? "true" : "false", v->at);
        for (int c = 0; c < v->ncases; c++) {
            fprintf(out, "%s{\"name\":", c ? "," : "");
            json_write_string(out, v->cases[c].name);
            fprintf(out, ",\"ok\":%s}", v->cases[c].ok ? "true" : "false");
        }
        fprintf(out, "],\"finding\":");
        json_write_string(out, v->finding);
        fputc('}', out);
    }
    fprintf(out, "]}\n");
}
