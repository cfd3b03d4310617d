/* A chapter's server as a child process, for the tests and the tools:
 * started on port 0,
 * found by its "listening on" line, stopped with a signal, talked to over
 * plain sockets. Its stdout and stderr go to files, so that it never blocks
 * on a full pipe and a test can read what it said. */
#ifndef TOOLS_PROC_PROC_H
#define TOOLS_PROC_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct child {
    pid_t pid;
    int port;
    int status; /* from waitpid, once it has exited */
    int reaped; /* waitpid has returned it */
    char out[512], err[512]; /* its output files: CHAPTER_LOG_DIR may be deep */
};

/* Starts path --port 0 --time-scale scale, then the extra flag and its value
 * if extra is not NULL, and waits up to 10 s for its listening line. Returns
 * 0, or -1 if it never came (server_stop then ends whatever was started).
 * The server starts with no signal blocked and gets SIGTERM when the thread
 * that called this ends (PR_SET_PDEATHSIG): call it from a thread that lives
 * as long as the server should. */
int server_spawn(struct child *s, const char *path, double scale, const char *extra,
                 const char *value);

/* The same with any number of extra arguments, args ending with NULL (at
 * most 18). */
int server_spawn_args(struct child *s, const char *path, double scale, const char *const *args);

/* Sends sig (0: none, it was sent already) and waits up to ms for the exit;
 * returns whether it exited (then s->status holds its wait status). A server
 * still running is killed. */
int server_stop(struct child *s, int sig, int ms);

/* The whole of what the server wrote to stderr so far (static storage). */
const char *server_stderr(const struct child *s);

/* The same for stdout (a second static buffer). */
const char *server_stdout(const struct child *s);

/* Whether the server is still running (if not, it is reaped and s->status
 * says how it ended). */
int server_alive(struct child *s);

/* Stops and cleans up every server this process started and has not. */
void servers_stop_all(void);

/* How it ended, in words: "exit code 1", "killed by SIGSEGV" (static). */
const char *server_exit_text(const struct child *s);

/* Removes the output files. With CHAPTER_LOG_DIR set they are made in that
 * folder and stay, for ./lab check to read what the servers said. */
void server_cleanup(struct child *s);

/* Sends len bytes to the server, then reads its answer until it closes the
 * connection, 2 s pass or reply_size - 1 bytes came. Returns the length. */
size_t raw_exchange(int port, const char *bytes, size_t len, char *reply, size_t reply_size);

/* Connects and sends request, and returns the socket, open (or -1). */
int raw_send(int port, const char *request);

/* How a client leaves: close (FIN), reset (SO_LINGER 0, then close: RST), or
 * half-close (shutdown of its sending side: FIN, while it can still read). */
enum hangup { HANGUP_CLOSE, HANGUP_RESET, HANGUP_HALF_CLOSE };
extern const char *const hangup_name[3];

/* Leaves the connection fd as how says. After HANGUP_HALF_CLOSE the caller
 * still owns fd and closes it. */
void hang_up(int fd, enum hangup how);

/* CPU time the process has used so far (user + system), in milliseconds, from
 * /proc/PID/stat; -1 if it cannot be read. */
long proc_cpu_ms(pid_t pid);

/* Resident memory of the process (VmRSS in /proc/PID/status), in KiB; -1 if
 * it cannot be read. */
long proc_rss_kb(pid_t pid);

/* Polls the kernel's thread count of pid every half millisecond until it
 * equals want or the deadline (clock.h) passes; returns the last count and
 * sets *at to the time (now_ms) it was read. For measuring how fast threads
 * go, where census_settle's growing waits would blur the answer. */
int threads_reach(pid_t pid, int want, int64_t deadline, int64_t *at);

/* How many of pid's threads carry name in the kernel (/proc/PID/task/N/comm). */
int threads_named(pid_t pid, const char *name);

/* Limits process pid to its threads now plus extra: a pids cgroup of its own
 * when this runs as root and cgroup v1's pids controller is mounted, else
 * RLIMIT_NPROC (for a user other than root; it counts every task of the
 * user). Returns 0 and says which in how, or -1 if neither can be had. */
int thread_limit(pid_t pid, int extra, const char **how);

/* Lifts the limit again (the process may go on running). */
void thread_limit_lift(pid_t pid);

/* Removes the cgroup, once pid has exited. */
void thread_limit_remove(pid_t pid);

/* Reads from fd into text after the got bytes already there, until the
 * server closes it, the deadline passes or text is full; returns the length
 * (text is terminated). */
size_t read_until(int fd, char *text, size_t size, size_t got, int64_t deadline);

/* A patient client's view of one GET: status (0 if no complete reply), the
 * body, and when the reply ended, in ms after the request was sent. */
struct reply {
    int status;
    char body[512];
    int64_t sent_at, ms;
};

/* Sends GET path over a new connection and reads the reply until the server
 * closes it or timeout_ms pass. Returns 0, or -1 if no complete reply came
 * (r->status 0). */
int http_get(int port, const char *path, int64_t timeout_ms, struct reply *r);

/* The body of GET /debug/threads (static storage, cut to 2000 bytes), for
 * failure messages. */
const char *threads_dump(int port);

#endif
