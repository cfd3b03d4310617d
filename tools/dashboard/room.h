/* room: the room board (./lab dashboard --room ADDR). Each learner's last
 * ./lab check verdict per chapter, posted over the network with the room's
 * join code, kept in memory and in a file (rewritten on every change, read
 * back at start), and shown on the trainer's page, which is served on
 * loopback only: nothing but a verdict's post is reachable from the room.
 *
 * A post is POST /api/verdict/CODE with a text body of "key: value" lines:
 *
 *     name: Ada
 *     chapter: 02
 *     verdict: fail
 *     case: obeys_a_hang_up_at_once ok
 *     case: behaves_as_the_story_says fail
 *     finding: 02-channel-block/leaky.c:43 (in send_one) ...
 *
 * Every bad post gets a 4xx with its reason: 403 a wrong join code or a full
 * room, 400 a malformed body (not UTF-8, a control character, a line that is
 * no known "key: value"), 413 one over ROOM_MAX_BODY, 429 more than five
 * posts at once or two a second from one address (with Retry-After). A post
 * kept but not written to the file is a 500 that says so. All of it runs on
 * the dashboard's loop thread.
 */
#ifndef TOOLS_DASHBOARD_ROOM_H
#define TOOLS_DASHBOARD_ROOM_H

#include <stdio.h>

#include <event2/http.h>

enum { ROOM_MAX_BODY = 4096 };

/* Opens the board: its join code (letters and digits), the most learners it
 * keeps, and the file it lives in (read now if it exists). Returns 0, or -1
 * with the reason on stderr. */
int room_open(const char *code, int max_learners, const char *file);

/* The network listener's only route: a learner's post. */
void room_on_post(struct evhttp_request *req, void *arg);

/* GET /api/room on the loopback page: every learner's last verdict, as JSON. */
void room_write_state(FILE *out);

#endif
