#include "proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static int read_port(void *arg)
{
    struct server *s = arg;
    FILE *f = fopen(s->out, "r");
    char line[128] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on http://", 20) != 0 || !colon || !strchr(line, '\n'))
        return 0;
    s->port = atoi(colon + 1);
    return s->port > 0;
}

static int temp_file(char *path, size_t size, const char *what)
{
    snprintf(path, size, "/tmp/chapter-%s-XXXXXX", what);
    return mkstemp(path);
}

int server_spawn(struct server *s, const char *path, double scale, const char *extra,
                 const char *value)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    int out = temp_file(s->out, sizeof s->out, "out");
    int err = temp_file(s->err, sizeof s->err, "err");
    if (out >= 0 && err >= 0) {
        char scale_text[32];
        snprintf(scale_text, sizeof scale_text, "%g", scale);
        s->pid = fork();
        if (s->pid == 0) {
            dup2(out, STDOUT_FILENO);
            dup2(err, STDERR_FILENO);
            execl(path, path, "--port", "0", "--time-scale", scale_text, extra, value,
                  (char *)NULL);
            _exit(127);
        }
    }
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    return s->pid > 0 && unit_eventually(read_port, s, 10000) ? 0 : -1;
}

void server_start(struct server *s, const char *path, double scale, const char *extra,
                  const char *value)
{
    ck_assert_msg(server_spawn(s, path, scale, extra, value) == 0,
                  "%s never said it was listening: %s", path, server_stderr(s));
}

static int exited(void *arg)
{
    struct server *s = arg;
    return waitpid(s->pid, &s->status, WNOHANG) == s->pid;
}

int server_stop(struct server *s, int sig, int ms)
{
    if (s->pid <= 0)
        return 0;
    kill(s->pid, sig);
    int ok = unit_eventually(exited, s, ms);
    if (!ok) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    return ok;
}

void server_stop_cleanly(struct server *s)
{
    int ok = server_stop(s, SIGTERM, 5000);
    const char *said = server_stderr(s);
    server_cleanup(s);
    ck_assert_msg(ok, "the server did not exit within 5 s of SIGTERM: %s", said);
    ck_assert_msg(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0,
                  "the server did not exit with 0 (wait status %d): %s", s->status, said);
}

const char *server_stderr(const struct server *s)
{
    static char text[16384];
    text[0] = '\0';
    FILE *f = fopen(s->err, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

void server_cleanup(struct server *s)
{
    unlink(s->out);
    unlink(s->err);
}

static int connect_and_send(int port, const char *bytes, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    size_t sent = 0;
    ssize_t n;
    while (sent < len && (n = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL)) > 0)
        sent += (size_t)n;
    return fd;
}

int raw_send(int port, const char *request)
{
    return connect_and_send(port, request, strlen(request));
}

size_t raw_exchange(int port, const char *bytes, size_t len, char *reply, size_t reply_size)
{
    size_t got = 0;
    int fd = connect_and_send(port, bytes, len);
    ssize_t n;
    while (fd >= 0 && got < reply_size - 1 &&
           (n = read(fd, reply + got, reply_size - 1 - got)) > 0)
        got += (size_t)n;
    reply[got] = '\0';
    if (fd >= 0)
        close(fd);
    return got;
}

const char *threads_dump(int port)
{
    static char text[16384];
    const char req[] = "GET /debug/threads HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    raw_exchange(port, req, sizeof req - 1, text, sizeof text);
    char *body = strstr(text, "\r\n\r\n");
    body = body ? body + 4 : text;
    if (strlen(body) > 2000)
        strcpy(body + 1980, "\n[...]\n"); /* Check's messages are short */
    return body;
}
