#define _GNU_SOURCE
#include "keepalive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "clock.h"

enum { BUF = 16 * 1024 };

struct conn {
    int fd;
    size_t got;
    char buf[BUF];
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The length of the first complete reply in c's buffer and its status, or 0
 * while it is not all in. */
static size_t reply_length(const struct conn *c, int *status)
{
    const char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->buf) + 4, body = 0;
    for (const char *line = c->buf; line < end; line = strstr(line, "\r\n") + 2)
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            body = strtoul(line + 15, NULL, 10);
    *status = strncmp(c->buf, "HTTP/1.", 7) == 0 ? atoi(c->buf + 9) : 0;
    return c->got >= head + body ? head + body : 0;
}

static int send_request(struct conn *c, const char *request, size_t len)
{
    return write(c->fd, request, len) == (ssize_t)len ? 0 : -1;
}

static int reopen(struct conn *c, int ep, int port, const char *request, size_t len)
{
    if (c->fd >= 0)
        close(c->fd); /* and so leaves the epoll set */
    c->got = 0;
    if ((c->fd = dial(port)) < 0)
        return -1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return send_request(c, request, len);
}

int keepalive_run(int port, const char *path, int connections, int64_t ms,
                  struct keepalive_result *r)
{
    char request[512];
    int len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    memset(r, 0, sizeof *r);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *conns = calloc((size_t)connections, sizeof *conns);
    if (ep < 0 || !conns) {
        free(conns);
        return -1;
    }
    int64_t start = now_ms(), end = start + ms;
    int live = 0;
    for (int i = 0; i < connections; i++) {
        conns[i].fd = -1;
        if (reopen(&conns[i], ep, port, request, (size_t)len) == 0)
            live++;
    }
    struct epoll_event events[64];
    while (live > 0 && now_ms() < end) {
        int n = epoll_wait(ep, events, 64, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->got, BUF - c->got);
            if (got <= 0 && !(got < 0 && errno == EINTR)) {
                r->errors++;
                if (reopen(c, ep, port, request, (size_t)len) < 0)
                    live--;
                continue;
            }
            c->got += got > 0 ? (size_t)got : 0;
            int status;
            size_t whole;
            while ((whole = reply_length(c, &status)) > 0) {
                r->replies++;
                r->ok += status == 200;
                memmove(c->buf, c->buf + whole, c->got - whole);
                c->got -= whole;
                if (send_request(c, request, (size_t)len) < 0)
                    break;
            }
            if (c->got == BUF) { /* a reply too big to be ours */
                r->errors++;
                if (reopen(c, ep, port, request, (size_t)len) < 0)
                    live--;
            }
        }
    }
    r->seconds = (double)(now_ms() - start) / 1000;
    for (int i = 0; i < connections; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(conns);
    close(ep);
    return r->replies > 0 || live > 0 ? 0 : -1;
}
