/* silent_board: a room board that takes every connection and never answers,
 * for tests/learner-edits/run: ./lab check must give its verdict while its
 * post to such a board still waits. Prints its port, then "accepted" for each
 * connection, and runs until killed. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("silent_board");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        if (accept(s, NULL, NULL) < 0) /* kept open, never read */
            return 1;
        printf("accepted\n");
        fflush(stdout);
    }
}
