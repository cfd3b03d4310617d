#define _GNU_SOURCE /* prlimit */
#include "proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "census.h"

#ifndef SLOWDOWN
#define SLOWDOWN 1 /* CMakeLists.txt: 4 under a sanitizer */
#endif

/* Polls pred(arg) with growing pauses (1 to 64 ms) until it is true or ms
 * milliseconds pass; returns its last answer. */
static int eventually(int (*pred)(void *arg), void *arg, int64_t ms)
{
    int64_t deadline = now_ms() + ms, pause = 1;
    while (!pred(arg)) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return pred(arg);
        int64_t wait = pause < left ? pause : left;
        struct timespec ts = { wait / 1000, wait % 1000 * 1000000 };
        nanosleep(&ts, NULL);
        pause = pause < 64 ? 2 * pause : 64;
    }
    return 1;
}

static int read_port(void *arg)
{
    struct child *s = arg;
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

/* "SIGSEGV" for SIGSEGV: the names a learner looks up. */
static const char *sigabbrev(int sig)
{
    static char other[16];
    switch (sig) {
    case SIGABRT: return "SIGABRT";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: snprintf(other, sizeof other, "signal %d", sig); return other;
    }
}

static int temp_file(char *path, size_t size, const char *what)
{
    const char *dir = getenv("CHAPTER_LOG_DIR");
    int len = snprintf(path, size, "%s/chapter-%s-XXXXXX", dir ? dir : "/tmp", what);
    if (len < 0 || (size_t)len >= size) { /* a cut template would make a file elsewhere */
        fprintf(stderr, "proc: CHAPTER_LOG_DIR is too long for a file name: %s\n", dir);
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkstemp(path);
}

/* The servers this process started and has not cleaned up, for
 * servers_stop_all. */
enum { MAX_SPAWNED = 16 };
static struct child spawned[MAX_SPAWNED];
static int nspawned;

static int exited(void *arg)
{
    struct child *s = arg;
    if (!s->reaped && waitpid(s->pid, &s->status, WNOHANG) == s->pid) {
        s->reaped = 1;
        for (int i = 0; i < nspawned; i++)
            if (spawned[i].pid == s->pid)
                spawned[i].reaped = 1;
    }
    return s->reaped;
}

void servers_stop_all(void)
{
    for (int i = 0; i < nspawned; i++) {
        if (spawned[i].pid <= 0)
            continue;
        server_stop(&spawned[i], SIGTERM, 2000 * SLOWDOWN);
        server_cleanup(&spawned[i]);
    }
}

static void remember(const struct child *s)
{
    if (nspawned < MAX_SPAWNED)
        spawned[nspawned++] = *s;
}

static void forget(const struct child *s)
{
    for (int i = 0; i < nspawned; i++)
        if (spawned[i].pid == s->pid)
            spawned[i].pid = -1;
}

int server_spawn(struct child *s, const char *path, double scale, const char *extra,
                 const char *value)
{
    const char *args[] = { extra, value, NULL };
    return server_spawn_args(s, path, scale, args);
}

int server_spawn_args(struct child *s, const char *path, double scale, const char *const *args)
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
            /* A go() thread forks with every signal blocked (go.c), and exec
             * keeps the mask: the server would never hear SIGTERM. */
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            /* When the thread that forked it ends, so does the server: a
             * test that fails ends with _exit, and its server goes with it. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            dup2(out, STDOUT_FILENO);
            dup2(err, STDERR_FILENO);
            const char *argv[24] = { path, "--port", "0", "--time-scale", scale_text };
            for (int i = 0; args[i] && i + 6 < 24; i++)
                argv[5 + i] = args[i];
            execv(path, (char *const *)argv);
            _exit(127);
        }
    }
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    if (s->pid > 0)
        remember(s);
    return s->pid > 0 && eventually(read_port, s, 10000) ? 0 : -1;
}


int server_alive(struct child *s)
{
    return s->pid > 0 && !exited(s);
}

const char *server_exit_text(const struct child *s)
{
    static char text[64];
    if (WIFSIGNALED(s->status))
        snprintf(text, sizeof text, "killed by %s", sigabbrev(WTERMSIG(s->status)));
    else
        snprintf(text, sizeof text, "exit code %d", WEXITSTATUS(s->status));
    return text;
}

int server_stop(struct child *s, int sig, int ms)
{
    if (s->pid <= 0)
        return 0;
    if (s->reaped)
        return 1;
    if (sig)
        kill(s->pid, sig);
    int ok = eventually(exited, s, ms);
    if (!ok) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    return ok;
}

static const char *whole_file(const char *path, char *text, size_t size)
{
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, size - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

const char *server_stderr(const struct child *s)
{
    static char text[16384];
    return whole_file(s->err, text, sizeof text);
}

const char *server_stdout(const struct child *s)
{
    static char text[65536];
    return whole_file(s->out, text, sizeof text);
}

/* With CHAPTER_LOG_DIR set the files stay there, for ./lab check to read. */
static void keep_or_remove(const char *path)
{
    if (!getenv("CHAPTER_LOG_DIR"))
        unlink(path);
}

void server_cleanup(struct child *s)
{
    forget(s);
    keep_or_remove(s->out);
    keep_or_remove(s->err);
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

const char *const hangup_name[3] = { "close", "reset", "half-close" };

void hang_up(int fd, enum hangup how)
{
    if (how == HANGUP_HALF_CLOSE) {
        shutdown(fd, SHUT_WR);
        return;
    }
    if (how == HANGUP_RESET) {
        struct linger l = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

long proc_cpu_ms(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Fields 14 and 15, counted after the command name's closing paren. */
    char *p = strrchr(text, ')');
    unsigned long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

int threads_reach(pid_t pid, int want, int64_t deadline, int64_t *at)
{
    int n;
    for (;;) {
        n = census_threads_of(pid);
        *at = now_ms();
        if (n == want || n < 0 || *at >= deadline)
            return n;
        struct timespec ts = { 0, 500000 };
        nanosleep(&ts, NULL);
    }
}

size_t read_until(int fd, char *text, size_t size, size_t got, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, text + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == size - 1)
            break;
    }
    text[got] = '\0';
    return got;
}

int http_get(int port, const char *path, int64_t timeout_ms, struct reply *r)
{
    memset(r, 0, sizeof *r);
    char request[512], text[4096];
    snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    r->sent_at = now_ms();
    int fd = raw_send(port, request);
    if (fd < 0)
        return -1;
    read_until(fd, text, sizeof text, 0, r->sent_at + timeout_ms);
    r->ms = now_ms() - r->sent_at;
    close(fd);
    char *body = strstr(text, "\r\n\r\n");
    if (strncmp(text, "HTTP/1.", 7) != 0 || !body)
        return -1;
    r->status = atoi(text + 9);
    snprintf(r->body, sizeof r->body, "%s", body + 4);
    return 0;
}

#define PIDS_ROOT "/sys/fs/cgroup/pids"

static void cgroup_path(char *path, size_t size, pid_t pid, const char *file)
{
    snprintf(path, size, PIDS_ROOT "/threadleaks-test-%d%s%s", (int)pid, file ? "/" : "",
             file ? file : "");
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = -1;
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}

/* Tasks whose real user is ours: what RLIMIT_NPROC counts. */
static int tasks_of_user(void)
{
    int n = 0;
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc)) != NULL) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s/task", e->d_name);
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || stat(path, &st) != 0 ||
            st.st_uid != getuid())
            continue;
        n += census_threads_of(atoi(e->d_name));
    }
    if (proc)
        closedir(proc);
    return n;
}

int thread_limit(pid_t pid, int extra, const char **how)
{
    char path[256], text[32];
    if (getuid() == 0 && access(PIDS_ROOT "/cgroup.procs", W_OK) == 0) {
        cgroup_path(path, sizeof path, pid, NULL);
        snprintf(text, sizeof text, "%d", (int)pid);
        if (mkdir(path, 0755) == 0 || errno == EEXIST) {
            cgroup_path(path, sizeof path, pid, "cgroup.procs");
            if (write_text(path, text) == 0) {
                cgroup_path(path, sizeof path, pid, "pids.current");
                long now = read_number(path);
                snprintf(text, sizeof text, "%ld", now + extra);
                cgroup_path(path, sizeof path, pid, "pids.max");
                if (now > 0 && write_text(path, text) == 0) {
                    *how = "a pids cgroup";
                    return 0;
                }
            }
        }
    }
    if (getuid() != 0) {
        struct rlimit rl = { (rlim_t)(tasks_of_user() + extra), RLIM_INFINITY };
        struct rlimit old;
        if (prlimit(pid, RLIMIT_NPROC, NULL, &old) == 0 && (rl.rlim_max = old.rlim_max) &&
            rl.rlim_cur <= old.rlim_max && prlimit(pid, RLIMIT_NPROC, &rl, NULL) == 0) {
            *how = "RLIMIT_NPROC";
            return 0;
        }
    }
    return -1;
}

void thread_limit_lift(pid_t pid)
{
    char path[256];
    cgroup_path(path, sizeof path, pid, "pids.max");
    if (write_text(path, "max") != 0 && getuid() != 0) {
        struct rlimit rl;
        if (prlimit(pid, RLIMIT_NPROC, NULL, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            prlimit(pid, RLIMIT_NPROC, &rl, NULL);
        }
    }
}

static int cgroup_gone(void *arg)
{
    return rmdir(arg) == 0 || errno == ENOENT;
}

void thread_limit_remove(pid_t pid)
{
    char path[256];
    cgroup_path(path, sizeof path, pid, NULL);
    eventually(cgroup_gone, path, 2000);
}

int threads_named(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        char comm_path[400], comm[32] = "";
        snprintf(comm_path, sizeof comm_path, "%s/%s/comm", path, e->d_name);
        FILE *f = e->d_name[0] != '.' ? fopen(comm_path, "r") : NULL;
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        n += strcmp(comm, name) == 0;
    }
    if (dir)
        closedir(dir);
    return n;
}
