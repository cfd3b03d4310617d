#include "db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flags.h"
#include "server_internal.h"

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    long port;
    if (!colon || (size_t)(colon - addr) >= sizeof host || !flag_int(colon + 1, 1, 65535, &port))
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

bool db_addr_ok(const char *addr)
{
    struct sockaddr_in sa;
    return parse_addr(addr, &sa) == 0;
}

/* Connecting can stall too (a full backlog): it waits on ctx like the rest. */
static int connect_to(ctx_t *ctx, const struct sockaddr_in *sa, const char *file, int line)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS)
        goto fail;
    int polled = ctx_poll_at(ctx, fd, POLLOUT, -1, file, line);
    if (polled) {
        errno = polled;
        goto fail;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        errno = err;
        goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int db_query_at(ctx_t *ctx, const char *addr, const char *query, char *answer, size_t size,
                const char *file, int line)
{
    struct sockaddr_in sa;
    if (parse_addr(addr, &sa) < 0 || size == 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = connect_to(ctx, &sa, file, line);
    if (fd < 0)
        return -1;
    char request[512];
    int n = snprintf(request, sizeof request, "%s\n", query);
    int rc = -1;
    if (n < 0 || (size_t)n >= sizeof request) {
        errno = EINVAL;
    } else if (send(fd, request, (size_t)n, MSG_NOSIGNAL) == n) {
        size_t got = 0;
        int polled;
        while ((polled = ctx_poll_at(ctx, fd, POLLIN, -1, file, line)) == 0) {
            ssize_t r = read(fd, answer + got, size - 1 - got);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0) {
                errno = r == 0 ? ECONNRESET : errno;
                break;
            }
            got += (size_t)r;
            char *newline = memchr(answer, '\n', got);
            if (newline || got == size - 1) {
                *(newline ? newline : answer + got) = '\0';
                rc = 0;
                break;
            }
        }
        if (polled)
            errno = polled;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- the stalled database, on the server's loop thread ---- */

/* One connection the database holds open and never answers. */
struct stalled {
    struct bufferevent *bev;
    struct stalled *prev, *next;
};

static struct evconnlistener *db_listener;
static struct stalled *stalled_conns;
static char db_addr[64];

const char *server_db(void)
{
    return db_addr;
}

void srv_db_set_addr(const char *addr)
{
    snprintf(db_addr, sizeof db_addr, "%s", addr);
}

static void stalled_free(struct stalled *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        stalled_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    free(c);
}

/* Reads the query and throws it away: the answer never comes. */
static void on_db_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void on_db_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        stalled_free(arg);
}

static void on_db_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                         int len, void *arg)
{
    (void)sa;
    (void)len;
    (void)arg;
    struct stalled *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(evconnlistener_get_base(lev), fd,
                                                         BEV_OPT_CLOSE_ON_FREE)
                                : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->bev = bev;
    c->next = stalled_conns;
    if (stalled_conns)
        stalled_conns->prev = c;
    stalled_conns = c;
    bufferevent_setcb(bev, on_db_read, NULL, on_db_event, c);
    bufferevent_enable(bev, EV_READ);
}

int srv_stalled_db_start(struct event_base *base)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    db_listener = evconnlistener_new_bind(base, on_db_accept, NULL,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, BACKLOG,
                                          (struct sockaddr *)&sa, sizeof sa);
    if (!db_listener)
        return -1;
    socklen_t len = sizeof sa;
    getsockname(evconnlistener_get_fd(db_listener), (struct sockaddr *)&sa, &len);
    snprintf(db_addr, sizeof db_addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    return 0;
}

void srv_stalled_db_stop(void)
{
    while (stalled_conns)
        stalled_free(stalled_conns);
    if (db_listener)
        evconnlistener_free(db_listener);
    db_listener = NULL;
}
